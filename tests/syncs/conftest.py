"""The sync job fixtures (defined in helpers.py) for every test in this folder."""

from tests.syncs.helpers import sync_app, sync_client, sync_root

__all__ = ["sync_app", "sync_client", "sync_root"]
