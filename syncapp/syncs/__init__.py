"""Sync jobs (seed 000): folder → destination copies on an interval or on file changes."""
