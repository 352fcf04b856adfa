"""The sync job fixtures (defined in tests/syncs/helpers.py) for the monitoring tests."""

from tests.syncs.helpers import sync_app, sync_client, sync_root

__all__ = ["sync_app", "sync_client", "sync_root"]
