"""One way to print numbers on every page: sizes in IEC units (B, KiB, MiB, ...) with one decimal
above a kibibyte, percentages as whole numbers followed by " %". static/js/format.js prints
live-updated values the same way (`size`, `percent`), so a row looks the same before and after
an event updates it. Times are not formatted here: templates/_time.html renders a
`<time datetime>` and static/js/layout.js shows it in the browser's zone."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from .blueprint import bp

UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def size(value: int | float | None) -> str:
    """259 -> "259 B", 1659 -> "1.6 KiB"; None -> "" (a row without a value stays empty)."""
    if value is None:
        return ""
    amount = float(value)
    if abs(amount) < 1024:
        return f"{int(amount)} B"
    unit = -1
    while abs(amount) >= 1024 and unit < len(UNITS) - 1:
        amount /= 1024
        unit += 1
    return f"{amount:.1f} {UNITS[unit]}"


def percent(value: int | float | None) -> str:
    """A share already in percent (0-100): whole numbers, rounded down so that "100 %" means
    done and never 99.6; None -> ""."""
    if value is None:
        return ""
    number = float(value)
    whole = 100 if number >= 100 else max(0, math.floor(number))
    return f"{whole} %"


def ratio(value: int | float | None) -> str:
    """A share as a fraction (0-1) printed as percent()."""
    return "" if value is None else percent(float(value) * 100)


bp.add_app_template_filter(size, "size")
bp.add_app_template_filter(percent, "percent")
bp.add_app_template_filter(ratio, "ratio")


def utc(value: datetime | str) -> datetime:
    """A naive datetime (the database's UTC), an aware one or an ISO 8601 string, in UTC."""
    moment = value
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


bp.add_app_template_filter(utc, "utc")
