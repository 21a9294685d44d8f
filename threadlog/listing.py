"""Listings shown three ways from one spec: a terminal table, tab-separated lines, JSON.

In a terminal the table fits its width: ids, numbers and times are never cut or wrapped;
when the columns do not fit, the least useful are left out (a note on stderr names them).
Piped, each row is one line of tab-separated cells under a header line, whatever the
terminal's width; ``--json`` prints the same rows as a JSON array.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table

from threadlog.errors import ThreadlogError

__all__ = ["GAP", "Listing", "ListingOptions", "cell", "json_rows", "json_value", "print_listing", "tsv_lines"]

GAP = 2  # characters between two columns of a terminal table
TIME_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"  # polars' spelling of _time's


@dataclass(frozen=True)
class Listing:
    """What a command lists: its columns in order, and how they behave at a narrow width.

    `keep` columns are shown at any width; `text` columns (free text) may wrap in a
    terminal, all others are shown whole; `drop_first` names the least useful columns,
    left out first, in that order, when the table does not fit.
    """

    columns: tuple[str, ...]
    keep: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    drop_first: tuple[str, ...] = ()

    def chosen(self, frame: pl.DataFrame, columns: str | None) -> list[str]:
        """The columns to show: the listing's own, or those `--columns a,b,c` names."""
        if columns is None:
            return list(self.columns)
        names = list(dict.fromkeys(c.strip() for c in columns.split(",") if c.strip()))  # each once
        unknown = [c for c in names if c not in frame.columns]
        if unknown or not names:
            raise ThreadlogError(
                f"no column {', '.join(map(repr, unknown)) or 'named'}; --columns takes a comma-separated "
                f"list of: {', '.join(frame.columns)}"
            )
        return names


@dataclass(frozen=True)
class ListingOptions:
    """How the user asked to see a listing: `--json`, `--columns`, `--limit`."""

    as_json: bool = False
    columns: str | None = None
    limit: int = 0


def cell(v: Any) -> str:
    """A value as a terminal table shows it: '-' for none, times to the µs, 3 decimals."""
    if v is None:
        return "-"
    if isinstance(v, datetime):
        return _time(v)
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _time(v: datetime) -> str:
    """A time as every listing writes it, to the µs: 2026-11-25 23:40:55.806000."""
    return v.isoformat(sep=" ", timespec="microseconds")


def json_value(v: Any) -> Any:
    """How `json.dumps` writes what JSON has no type for: times as the listings show them."""
    if isinstance(v, datetime):
        return _time(v)
    if isinstance(v, date | timedelta):
        return str(v)
    raise TypeError(f"cannot write {type(v).__name__} as JSON")


def json_rows(frame: pl.DataFrame) -> str:
    """The rows as a JSON array of objects; times as text, as the table shows them."""
    return json.dumps(frame.to_dicts(), default=json_value, indent=1)


def tsv_lines(frame: pl.DataFrame) -> list[str]:
    """A header line and one line per row, cells tab-separated.

    Nulls are empty; tabs, newlines and backslashes inside a cell are written as ``\\t``,
    ``\\n`` and ``\\\\`` so that a row stays one line (as PostgreSQL's text format does).
    """
    as_text = [
        pl.col(c).dt.to_string(TIME_FORMAT) if isinstance(t, pl.Datetime) else pl.col(c).cast(pl.String)
        for c, t in frame.schema.items()
    ]
    escaped = [
        text.str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all("\t", "\\t", literal=True)
        .str.replace_all("\n", "\\n", literal=True)
        .str.replace_all("\r", "\\r", literal=True)
        .fill_null("")
        for text in as_text
    ]
    body = frame.select(pl.concat_str(escaped, separator="\t").alias("row"))["row"].to_list() if frame.width else []
    return ["\t".join(frame.columns), *body]


def _fit(listing: Listing, cells: dict[str, list[str]], width: int) -> list[str]:
    """The columns that fit `width`, leaving out `drop_first` ones in order; text ones may wrap."""

    shown = list(cells)
    droppable = [c for c in listing.drop_first if c in shown and c not in listing.keep]
    droppable += [c for c in reversed(shown) if c not in droppable and c not in listing.keep]
    while droppable and _width(listing, cells, shown) > width:
        shown.remove(droppable.pop(0))
    return shown


def _width(listing: Listing, cells: dict[str, list[str]], shown: list[str]) -> int:
    """The narrowest the `shown` columns can be: others whole, text ones wrapped to 16 (or their header)."""

    def need(name: str) -> int:
        whole = max([len(name), *(len(v) for v in cells[name])])
        return min(whole, max(len(name), 16)) if name in listing.text else whole

    return sum(map(need, shown)) + GAP * (len(shown) - 1)


def terminal_table(listing: Listing, cells: dict[str, list[str]], shown: list[str], title: str | None) -> Table:
    """A rich table of the `shown` columns: text columns wrap, others are never cut."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in shown:
        whole = max([len(name), *(len(v) for v in cells[name])])
        if name in listing.text:
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, no_wrap=True, min_width=whole)
    for row in zip(*(cells[c] for c in shown), strict=True):
        table.add_row(*row)
    return table


def print_listing(
    frame: pl.DataFrame,
    listing: Listing,
    options: ListingOptions,
    out: Console,
    err: Console,
    title: str | None = None,
    footer: str | None = None,
) -> None:
    """Show `frame` as `listing` says: on `out`, a terminal table or piped lines, or JSON.

    The title and footer are for people: printed above and below a terminal table; piped,
    the footer goes to stderr; with ``--json``, neither.
    """
    columns = listing.chosen(frame, options.columns)
    shown = frame.select(columns)
    if 0 < options.limit < frame.height:
        shown = shown.head(options.limit)
    more = frame.height - shown.height
    if options.as_json:
        out.file.write(json_rows(shown) + "\n")
    elif not out.is_terminal:
        out.file.write("".join(line + "\n" for line in tsv_lines(shown)))
        if footer:
            err.print(footer, soft_wrap=True)
    else:
        cells = {c: [cell(v) for v in shown[c].to_list()] for c in columns}
        fitting = columns if options.columns else _fit(listing, cells, out.width)
        table = terminal_table(listing, cells, fitting, title)
        needed = _width(listing, cells, fitting)
        if needed > out.width:  # only columns the user named: shown whole, the terminal wraps the lines
            wider = Console(file=out.file, width=needed, force_terminal=True, no_color=out.no_color, highlight=False)
            wider.print(table, crop=False)
        else:
            out.print(table)
        if footer:
            out.print(footer)  # wrapped between words, like any text for people
        left_out = [c for c in columns if c not in fitting]
        if left_out:
            err.print(f"not shown at this width: {', '.join(left_out)}; --columns chooses", soft_wrap=True)
    if more > 0:
        err.print(f"{more:,} more rows; --limit 0 shows all", soft_wrap=True)
