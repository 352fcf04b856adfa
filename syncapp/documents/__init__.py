"""Documents (receipts, invoices, payslips) and their sync to the NAS (seed 001)."""
