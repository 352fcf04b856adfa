"""Backups (seed 003): FULL / INC / DIFF archives uploaded by shell scripts, listed and verified."""
