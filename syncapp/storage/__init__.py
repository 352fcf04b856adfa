"""The storage layer: every byte syncapp moves goes through a `Remote`.

`open_remote("s3", bucket=..., ...)` imports the backend's module only when it is first used, so a
deployment that never talks to Azure does not need azure-storage-blob installed.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from .base import (
    Capabilities,
    ChecksumMismatch,
    Entry,
    ProbeResult,
    Remote,
    RemoteConfigError,
    RemoteError,
    RemoteFull,
    RemoteNotFound,
    RemoteUnavailable,
)

__all__ = [
    "BACKENDS",
    "Capabilities",
    "ChecksumMismatch",
    "Entry",
    "ProbeResult",
    "Remote",
    "RemoteConfigError",
    "RemoteError",
    "RemoteFull",
    "RemoteNotFound",
    "RemoteUnavailable",
    "open_remote",
    "remote_class",
    "setting_names",
]

#: kind -> (module, class name, the PyPI package that module needs)
BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "local": ("local", "LocalRemote", None),
    "smb": ("smb", "SmbRemote", "pysmb"),
    "webdav": ("webdav", "WebDavRemote", "requests"),
    "s3": ("s3", "S3Remote", "boto3"),
    "gcs": ("gcs", "GcsRemote", "boto3"),  # GCS's XML API is S3's protocol (storage/gcs.py)
    "azure": ("azure", "AzureRemote", "azure-storage-blob"),
    "gdrive": ("gdrive", "DriveRemote", "google-api-python-client"),
}


def remote_class(kind: str) -> type[Remote]:
    try:
        module_name, class_name, package = BACKENDS[kind]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise RemoteConfigError(f"unknown storage kind {kind!r} (known: {known})") from None
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(__name__):
            raise
        raise RemoteConfigError(
            f"the {kind!r} backend needs the package {package!r}: pip install {package}"
        ) from exc
    return getattr(module, class_name)


def setting_names(kind: str) -> tuple[list[str], list[str]]:
    """(required, optional) setting names of a backend, read from its constructor."""
    params = inspect.signature(remote_class(kind).__init__).parameters.values()
    keyword = [p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    required = [p.name for p in keyword if p.default is inspect.Parameter.empty]
    optional = [p.name for p in keyword if p.default is not inspect.Parameter.empty]
    return required, optional


def open_remote(kind: str, **settings: Any) -> Remote:
    """Build a Remote of `kind`; an unknown or missing setting is a RemoteConfigError naming it."""
    cls = remote_class(kind)
    required, optional = setting_names(kind)
    unknown = sorted(set(settings) - set(required) - set(optional))
    if unknown:
        raise RemoteConfigError(
            f"unknown setting(s) for {kind!r}: {', '.join(unknown)} "
            f"(allowed: {', '.join(required + optional)})"
        )
    missing = [name for name in required if settings.get(name) in (None, "")]
    if missing:
        raise RemoteConfigError(f"missing setting(s) for {kind!r}: {', '.join(missing)}")
    return cls(**settings)
