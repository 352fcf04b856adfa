"""Cloud files (seed 004): uploads replicated to Google Drive, Azure Blob and S3, with versions
and conflicts."""
