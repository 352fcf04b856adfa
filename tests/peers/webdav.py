"""Peer for the webdav backend (being written)."""
