"""/verify's body read by msgspec where it can be (issue 23).

marshmallow spent 0.8 s loading the 10,000 archives a client sends. msgspec decodes and checks
the same body in C, into these strict types: what they take, `schemas.VerifyRequest` loads as
the same dicts (missing `size` and `md5` as None). They take less (unknown fields, a size
written 1.0 or "1", a lone surrogate, NaN...): for anything they refuse the schema reads the
body, and answers its errors as it always did (`Blueprint.fast_arguments`).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from flask import Request

from .models import ARCHIVE_TYPES
from .report import EXTRA_POLICIES


class _LocalArchive(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    size: int | None = None
    md5: str | None = None


class _VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    local_backups: dict[Literal[ARCHIVE_TYPES], list[_LocalArchive]]  # type: ignore[valid-type]
    extra_remote: Literal[EXTRA_POLICIES] = EXTRA_POLICIES[0]  # type: ignore[valid-type]


_decoder = msgspec.json.Decoder(_VerifyRequest)


def read(request: Request) -> dict[str, Any] | None:
    """The body as `schemas.VerifyRequest` loads it, or None: let the schema read it."""
    if not request.is_json:
        return None
    try:
        return msgspec.to_builtins(_decoder.decode(request.get_data(cache=True)))
    except msgspec.DecodeError:  # and its ValidationError
        return None
