"""The storage layer's shared pieces: path rules, the lazy registry, the stream adapters."""

from __future__ import annotations

import builtins
import hashlib
import io
import random

import pytest

from syncapp.storage import RemoteConfigError, RemoteError, open_remote, setting_names
from syncapp.storage.base import ChunkReader, HashingReader, clean_path


@pytest.mark.parametrize(
    ("given", "expected"),
    [("a/b.txt", "a/b.txt"), ("/a//b/./c", "a/b/c"), ("a\\b", "a/b"), ("", "")],
)
def test_clean_path_normalises(given, expected):
    assert clean_path(given) == expected


@pytest.mark.parametrize("bad", ["../x", "a/../../b", "a/..", "nul\x00byte"])
def test_clean_path_refuses_escapes(bad):
    with pytest.raises(RemoteError):
        clean_path(bad)


def test_an_unknown_setting_is_named(tmp_path):
    with pytest.raises(RemoteConfigError, match="rot"):
        open_remote("local", rot=str(tmp_path))


def test_a_missing_setting_is_named():
    with pytest.raises(RemoteConfigError, match="share_name"):
        open_remote("smb", server="127.0.0.1", username="u", password="p")


def test_an_unknown_kind_lists_the_known_ones():
    with pytest.raises(RemoteConfigError, match="local, s3, smb"):
        open_remote("ftp")


def test_a_missing_package_says_what_to_install(monkeypatch):
    import sys

    real_import = builtins.__import__

    def no_boto(name, *args, **kwargs):
        if name.startswith("boto3"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "syncapp.storage.s3", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_boto)
    with pytest.raises(RemoteConfigError, match="pip install boto3"):
        open_remote("s3", bucket="b")


def test_setting_names_come_from_the_backend():
    required, optional = setting_names("smb")
    assert {"server", "share_name", "username", "password"} <= set(required)
    assert {"domain", "remote_path", "port"} <= set(optional)


def test_chunk_reader_returns_exact_sizes_across_chunk_borders():
    rng = random.Random(4)
    for _ in range(200):
        data = rng.randbytes(rng.randint(0, 5000))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 10))))
        parts, previous = [], 0
        for cut in [*cuts, len(data)]:
            parts.append(data[previous:cut])
            previous = cut
        reader, out = ChunkReader(parts), b""
        while chunk := reader.read(rng.randint(1, 700)):
            out += chunk
        assert out == data


def test_hashing_reader_counts_and_hashes():
    reader = HashingReader(io.BytesIO(b"abc" * 1000))
    assert b"".join(reader.chunks(7)) == b"abc" * 1000
    assert reader.bytes_read == 3000
    assert reader.md5 == hashlib.md5(b"abc" * 1000).hexdigest()
