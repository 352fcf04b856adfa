"""Shared fixtures. Real-server fixtures live in tests/peers/ and are loaded as plugins."""

from tests.peers import PEER_PLUGINS

pytest_plugins = PEER_PLUGINS
