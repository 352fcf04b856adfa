"""The two-process cluster fixture (tests/scale/cluster.py), module-scoped."""

from tests.scale.cluster import cluster  # noqa: F401
