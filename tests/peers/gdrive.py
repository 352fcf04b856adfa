"""Peer for the gdrive backend (being written)."""
