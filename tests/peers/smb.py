"""Peer for the smb backend (being written)."""
