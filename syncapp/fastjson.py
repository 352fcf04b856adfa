"""JSON for the large answers (/list and /verify of 10,000 archives: megabytes) with msgspec,
giving the same bytes as Flask's `jsonify` (issue 23).

Flask's provider writes with the standard library: keys sorted, compact separators, non-ASCII
and DEL escaped (`ensure_ascii`), and a final newline; 35 ms of CPU for /list's 5 MB where
msgspec takes 3. For strings, integers, booleans, None, lists and dicts msgspec writes the same
bytes as long as they are printable ASCII: keys sorted alike (`order="sorted"`), control
characters escaped as `\\u00XX` or `\\n` alike. Anything else (a name with an accent, DEL, a
lone surrogate, the app in debug mode, where Flask indents) goes through `jsonify` itself, so
what clients read never depends on which path answered. A body may hold pieces already written
(`msgspec.Raw` of `encode`'s bytes): they are inserted as they are.
"""

from __future__ import annotations

from typing import Any

import msgspec
from flask import Response, current_app, jsonify

_encoder = msgspec.json.Encoder(order="sorted")
#: a byte msgspec writes raw where the standard library escapes it (ensure_ascii)
_DEL = b"\x7f"


def encode(value: Any) -> bytes | None:
    """`value` as Flask's provider writes it (compact, without the final newline), or None when
    msgspec would write it otherwise. Strings, integers, booleans, None, lists, dicts and Raw
    only: msgspec writes floats, datetimes, UUIDs and sets otherwise than Flask."""
    try:
        data = _encoder.encode(value)
    except (TypeError, ValueError):  # a type it does not write; a lone surrogate
        return None
    return data if data.isascii() and _DEL not in data else None


def reply(body: Any) -> Response:
    """`jsonify(body)`, byte for byte (values as `encode` takes them)."""
    provider = current_app.json
    compact = getattr(provider, "compact", None) is not False and not current_app.debug
    data = encode(body) if compact and getattr(provider, "sort_keys", False) else None
    if data is None:
        return jsonify(_plain(body))
    return current_app.response_class(data + b"\n", mimetype=provider.mimetype)


def again(data: bytes, mimetype: str) -> Response:
    """A reply made before (its body and type, as `reply` or `jsonify` gave them) sent again."""
    return current_app.response_class(data, mimetype=mimetype)


def _plain(value: Any) -> Any:
    """`value` with the pieces already written read back, for `jsonify`."""
    if isinstance(value, msgspec.Raw):
        return msgspec.json.decode(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value
