from tests.syncs.helpers import sync_app, sync_client, sync_root

__all__ = ["sync_app", "sync_client", "sync_root"]
