"""Stored remotes: storage locations an administrator configures once and features refer to."""
