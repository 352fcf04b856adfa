"""Sorting and paging of a page's long table, on the server: `?sort=<column>&order=asc|desc&
page=<n>&per_page=<1-500>` (a prefix tells two tables of one page apart: `resolved-sort`). The
page's query orders and pages with `order_by()` / `offset` / `per_page` (or `arrange()` for a
list already in memory, such as the backup archives of the store's index); templates/_table.html
draws the headers (links with aria-sort) and the pager from the same object. Unknown columns,
orders or pages fall back to the defaults: a link that went stale never breaks a page."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from flask import request, url_for

T = TypeVar("T")
PER_PAGE = 50
MAX_PER_PAGE = 500


def _number(text: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(text))) if text else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Listing:
    """One table's sort column, direction and page, as the request asked for them."""

    columns: tuple[str, ...]
    sort: str
    descending: bool
    page: int = 1
    per_page: int = PER_PAGE
    prefix: str = ""

    @classmethod
    def read(
        cls,
        columns: Sequence[str],
        default: str,
        *,
        descending: bool = False,
        per_page: int = PER_PAGE,
        prefix: str = "",
    ) -> Listing:
        args = request.args
        sort = args.get(f"{prefix}sort", default)
        if sort not in columns:
            sort = default
        order = args.get(f"{prefix}order", "")
        if order in ("asc", "desc"):
            descending = order == "desc"
        elif sort != default:
            descending = False
        page = _number(args.get(f"{prefix}page"), 1, 1, 10**9)
        per_page = _number(args.get(f"{prefix}per_page"), per_page, 1, MAX_PER_PAGE)
        return cls(tuple(columns), sort, descending, page, per_page, prefix)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def order_by(self, columns: Mapping[str, Any], *tiebreak: Any) -> list[Any]:
        """SQL ORDER BY clauses: the chosen column (nulls last either way), then `tiebreak`."""
        column = columns[self.sort]
        first = column.is_(None)  # False sorts before True: rows with a value first
        chosen = column.desc() if self.descending else column.asc()
        return [first, chosen, *tiebreak]

    def arrange(self, items: Sequence[T], keys: Mapping[str, Callable[[T], Any]]) -> Page[T]:
        """Sort and page a list in memory (values missing last, whichever the direction)."""
        key = keys[self.sort]
        present = [item for item in items if key(item) is not None]
        missing = [item for item in items if key(item) is None]
        ordered = sorted(present, key=key, reverse=self.descending) + missing
        page = self.clamped(len(ordered))
        return Page(ordered[page.offset : page.offset + page.per_page], len(ordered), page)

    def clamped(self, total: int) -> Listing:
        """The same listing on its last page when the asked page is past the end."""
        last = max(1, -(-total // self.per_page))
        return self if self.page <= last else replace(self, page=last)

    def of(self, items: Sequence[T], total: int) -> Page[T]:
        """The page a query already cut (with `offset` and `per_page`)."""
        return Page(list(items), total, self)

    # -- links -------------------------------------------------------------------------------

    def url(self, **changes: Any) -> str:
        """This page's URL with this table's parameters changed (the others' kept)."""
        args = request.args.to_dict()
        for name, value in changes.items():
            args[f"{self.prefix}{name}"] = value
        return url_for(request.endpoint or "web.dashboard", **(request.view_args or {}), **args)

    def header(self, column: str) -> dict[str, str]:
        """aria-sort and the link of a column's header: a click on the sorted column turns
        its direction, on another sorts by it ascending; either starts again at page 1."""
        if column == self.sort:
            aria = "descending" if self.descending else "ascending"
            order = "asc" if self.descending else "desc"
        else:
            aria, order = "none", "asc"
        return {"aria_sort": aria, "href": self.url(sort=column, order=order, page=1)}


@dataclass
class Page(Generic[T]):
    """The rows of one page, how many rows there are in all, and the listing that cut them."""

    items: list[T]
    total: int
    listing: Listing
    numbers: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.numbers = list(range(1, self.pages + 1))

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.listing.per_page))

    @property
    def first(self) -> int:
        return min(self.total, self.listing.offset + 1)

    @property
    def last(self) -> int:
        return min(self.total, self.listing.offset + len(self.items))

    def shown(self) -> list[int | None]:
        """Page numbers for the pager: the first, the last and two around the current one,
        None where a gap is."""
        current = self.listing.page
        wanted = {1, self.pages, *range(current - 2, current + 3)}
        shown: list[int | None] = []
        for number in self.numbers:
            if number in wanted:
                if shown and shown[-1] is not None and number - shown[-1] > 1:
                    shown.append(None)
                shown.append(number)
        return shown

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)
