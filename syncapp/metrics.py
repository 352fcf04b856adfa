"""The Prometheus registry every feature adds its counters to (monitoring exposes it at /metrics).

A registry of our own instead of prometheus_client's global one: each app created in a test
process would otherwise register the same names twice.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

REGISTRY = CollectorRegistry(auto_describe=True)
