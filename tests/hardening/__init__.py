"""Hardening tests (issue 11): fuzzing, authorisation, faults and security checks."""
