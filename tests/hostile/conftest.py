"""The two setups every attack is replayed against (issue 18), module-scoped: the embedded
default (gunicorn as scripts/serve starts it, no proxy) and two processes behind the shipped
deploy/nginx.conf (tests/scale/cluster.py)."""

from tests.scale.cluster import cluster

__all__ = ["cluster"]
