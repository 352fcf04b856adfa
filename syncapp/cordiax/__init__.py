"""Cordiax (seed 002): desktop clients push their database snapshot over Socket.IO or a share."""
