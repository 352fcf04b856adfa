"""The integrity scrub: every stored object read back against its recorded checksums."""
