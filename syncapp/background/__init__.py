"""Background work: claimable rows (claims.py) and the shapes features declare their work in."""
