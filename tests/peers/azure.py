"""Peer for the azure backend (being written)."""
