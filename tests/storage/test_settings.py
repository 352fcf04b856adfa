"""Backend settings are coerced by one set of rules (syncapp/storage/settings.py), whatever the
backend: text from the CLI or the environment means what the JSON value means."""

from __future__ import annotations

import pytest

from syncapp.storage import RemoteConfigError, open_remote

SMB = {"server": "127.0.0.1", "share_name": "s", "username": "u", "password": "p"}
WEBDAV = {"url": "http://127.0.0.1:1/dav", "username": "u", "password": "p"}


def test_text_settings_mean_what_their_json_values_mean(tmp_path):
    smb = open_remote("smb", **SMB, port="4450", timeout="2.5", is_direct_tcp="no")
    assert (smb.port, smb.timeout, smb.is_direct_tcp) == (4450, 2.5, False)
    s3 = open_remote("s3", bucket="b", timeout="7", max_concurrency="3", part_size=str(8 << 20))
    assert (s3.timeout, s3.max_concurrency, s3.part_size) == (7.0, 3, 8 << 20)
    webdav = open_remote("webdav", **WEBDAV, timeout="3", verify_tls="off")
    assert webdav.timeout == 3.0 and webdav._session.verify is False
    with pytest.raises(RemoteConfigError, match="does not exist"):
        open_remote("local", root=str(tmp_path / "absent"), create_root="false")


@pytest.mark.parametrize(
    ("kind", "settings", "named"),
    [
        ("smb", {**SMB, "port": "70000"}, "port"),
        ("smb", {**SMB, "timeout": "soon"}, "timeout"),
        ("smb", {**SMB, "is_direct_tcp": "maybe"}, "is_direct_tcp"),
        ("webdav", {**WEBDAV, "timeout": "0"}, "timeout"),
        ("webdav", {**WEBDAV, "verify_tls": ""}, "verify_tls"),
        ("s3", {"bucket": "b", "max_attempts": "0"}, "max_attempts"),
        ("azure", {"container": "abc", "sas_token": "x", "account_name": "a", "block_size": "big"},
         "block_size"),
    ],
)  # fmt: skip
def test_a_wrong_value_is_refused_naming_its_setting(kind, settings, named):
    with pytest.raises(RemoteConfigError, match=named):
        open_remote(kind, **settings)
