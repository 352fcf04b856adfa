"""Marshmallow fields shared by every feature's schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate
from werkzeug.routing import IntegerConverter, Map

from .timeutil import isoformat

#: The largest value every INTEGER column holds on every supported database (PostgreSQL's
#: int4). Ids and counts from a request stay below it: beyond, SQLite raises OverflowError and
#: PostgreSQL "integer out of range", both 500s instead of an answer.
MAX_INT = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a larger number matches no route (404), as no row has it.
    The OpenAPI document shows the bound (flask-smorest reads `max`)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INT)  # `<int(max=...):x>` still sets its own
        super().__init__(url_map, *args, **kwargs)


class UtcDateTime(fields.DateTime):
    """Serialises aware datetimes as ISO 8601 with a trailing Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)


class StrictBoolean(fields.Boolean):
    """A JSON body's true or false, nothing else: marshmallow's Boolean also takes 0, 1, "yes",
    "on"... which the document (type boolean) does not promise, and a typo like "flase" is
    then refused instead of guessed. Query strings and forms keep their text spellings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        # An isinstance check: 0 == False and 1 == True, so sets of allowed values would not do.
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class FullMatch(validate.Regexp):
    """marshmallow's Regexp matches at the start only: `$` lets a final newline through and an
    unanchored pattern any tail. Here the whole value must match."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value
