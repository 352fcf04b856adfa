"""Fixtures that start REAL servers for the tests (see docs/test-peers.md).

Each module starts (or finds) one kind of server on 127.0.0.1, waits until it answers, yields its
connection settings, and stops what it started. Add a module here and list it in PEER_PLUGINS.
"""

PEER_PLUGINS = [
    "tests.peers.databases",
    "tests.peers.local",
    "tests.peers.smb",
    "tests.peers.webdav",
    "tests.peers.s3",
    "tests.peers.azure",
    "tests.peers.gdrive",
    "tests.peers.nginx",
    "tests.peers.notify",
]
