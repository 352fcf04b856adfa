"""The fields of the stored-remote form, read from each backend's constructor so that the form
offers exactly the settings the API accepts (the same source as `storage.setting_names`)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from ..storage import BACKENDS, RemoteConfigError, remote_class, setting_names

KIND_LABELS = {
    "local": "Local folder",
    "smb": "SMB share",
    "webdav": "WebDAV server",
    "s3": "Amazon S3 or compatible",
    "gcs": "Google Cloud Storage",
    "azure": "Azure Blob Storage",
    "gdrive": "Google Drive",
}

#: constructor annotations (strings: the backends use postponed annotations) -> input type
INPUT_TYPES = {"bool": "checkbox", "int": "integer", "float": "number"}


@dataclass(frozen=True)
class SettingField:
    name: str
    label: str
    required: bool
    secret: bool
    input: str  # "text", "password", "integer", "number" or "checkbox"
    default: Any


@dataclass(frozen=True)
class RemoteKind:
    kind: str
    label: str
    available: bool
    hint: str  # why a kind cannot be chosen (its package is missing), else ""
    fields: list[SettingField]


def _field(name: str, parameter: inspect.Parameter, required: bool, secret: bool) -> SettingField:
    annotation = str(parameter.annotation)
    default = None if parameter.default is inspect.Parameter.empty else parameter.default
    return SettingField(
        name=name,
        label=name.replace("_", " ").capitalize(),
        required=required,
        secret=secret,
        input="password" if secret else INPUT_TYPES.get(annotation, "text"),
        default=default,
    )


def remote_kind(kind: str) -> RemoteKind:
    try:
        cls = remote_class(kind)
    except RemoteConfigError as exc:
        return RemoteKind(kind, KIND_LABELS.get(kind, kind), False, str(exc), [])
    required, optional = setting_names(kind)
    parameters = inspect.signature(cls.__init__).parameters
    fields = [
        _field(name, parameters[name], name in required, name in cls.secret_settings)
        for name in required + optional
    ]
    return RemoteKind(kind, KIND_LABELS.get(kind, kind), True, "", fields)


def remote_kinds() -> list[RemoteKind]:
    return [remote_kind(kind) for kind in BACKENDS]
