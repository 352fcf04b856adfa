"""Peer for the s3 backend (being written)."""
