"""Which log format each file is in, told from its lines when the user does not say.

Every preset is tried on a file's first lines (and, for a plain file, lines from its middle
and end, where a second format may have taken over); the one that reads most of them wins.
"""

from __future__ import annotations

import os
from contextlib import closing

import polars as pl

from threadlog.errors import ThreadlogError
from threadlog.grammars import PRESETS, LineGrammar
from threadlog.matching import extract_fields
from threadlog.reader import Source, read_chunks, split_lines

__all__ = ["detect_grammars", "fitting_preset", "sample_lines"]

DETECT_LINES = 2000
DETECT_LINE_BYTES = 4096


def detect_grammars(sources: list[Source]) -> dict[str, LineGrammar]:
    """The preset that fits each source's first lines best.

    Each file is judged on its own: a rotated set can span a change of logging format. An
    empty file takes its neighbour's format; a file that fits no preset is an error.
    """
    found: dict[str, LineGrammar] = {}
    chosen: dict[str, LineGrammar] = {}  # one object per preset (or pair), shared by its files
    for source in sources:
        sample = sample_lines(source)
        if sample.len():
            best = _best_preset(sample, source.name)
            best = _with_later_format(best, sample, source)
            found[source.name] = chosen.setdefault(best.name, best)
    if not found:
        names = ", ".join(s.name for s in sources)
        raise ThreadlogError(f"{names}: empty, nothing to parse; name a log that has lines")
    fallback = next(iter(found.values()))
    for source in sources:
        fallback = found.setdefault(source.name, fallback)
    return found


def _with_later_format(first: LineGrammar, head: pl.Series, source: Source) -> LineGrammar:
    """`first`, or `first` and a second preset when part of the file is in another format.

    Two logs concatenated (``cat rally.log.1 rally.log``) across a logging change are still
    read whole: lines are tried against the first format, then the second. The file's head,
    middle and end are sampled; a second preset counts only where it fits a fifth of a
    sample's lines among those the first one does not fit.
    """
    for sample in [head, *_later_samples(source)]:
        own = pl.Series([False] * sample.len())
        for p in first.headers:
            own = own | extract_fields(sample, p)["_hit"]
        rest = sample.filter(~own)
        if rest.len() * 5 < sample.len():
            continue
        try:
            other = _best_preset(rest, source.name)
        except ThreadlogError:
            continue
        hits = sum(int(extract_fields(rest, p)["_hit"].sum()) for p in other.headers)
        if other.name != first.name and hits * 5 >= sample.len():
            return LineGrammar(
                name=f"{first.name}+{other.name}",
                formats=first.formats + other.formats,
                headers=first.headers + other.headers,
                exceptions=first.exceptions + other.exceptions,
                detected=True,
            )
    return first


def _later_samples(source: Source, size: int = 64 << 10) -> list[pl.Series]:
    """Whole lines from the middle and the end of a plain file (a .gz cannot be sought)."""
    if source.path is None or source.compressed or source.size is None or source.size <= 2 * size:
        return []
    samples = []
    try:
        fd = os.open(source.path, os.O_RDONLY)
    except OSError:
        return []  # only a hint: reading the file proper reports what is wrong
    try:
        for offset in (source.size // 2, source.size - size):
            block = os.pread(fd, size, offset)
            # the whole lines only: drop the partial ones at both ends
            text, _ = split_lines(block[block.find(b"\n") + 1 : block.rfind(b"\n") + 1])
            if text.len():
                samples.append(text.head(DETECT_LINES).str.slice(0, DETECT_LINE_BYTES))
    except OSError:
        pass
    finally:
        os.close(fd)
    return samples


def _best_preset(sample: pl.Series, source_name: str) -> LineGrammar:
    """The preset with the most header lines in `sample`, or a `ThreadlogError`."""
    best: tuple[int, int, str] | None = None
    for name, grammar in PRESETS.items():
        hits = sum(int(extract_fields(sample, p)["_hit"].sum()) for p in grammar.headers)
        if hits == 0:
            continue
        score = (hits, len(grammar.attributes), name)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is None:
        raise ThreadlogError(
            f"{source_name}: no known log format fits its first lines (presets: "
            f"{', '.join(PRESETS)}); pass the program's logging format with --format "
            "'%(asctime)s %(process)d %(thread)d %(levelname)s %(name)s %(message)s' "
            "or its rally.conf with --rally-conf"
        )
    chosen = PRESETS[best[2]]
    return LineGrammar(chosen.name, chosen.formats, chosen.headers, chosen.exceptions, detected=True)


def fitting_preset(line: str) -> str | None:
    """The name of the preset that reads `line` as a record's first line, if one does."""
    try:
        return _best_preset(pl.Series("text", [line[:DETECT_LINE_BYTES]]), "").name
    except ThreadlogError:
        return None


def sample_lines(source: Source) -> pl.Series:
    """The first lines of `source` (stdin arrives spooled to a file, so it has a path too)."""
    with closing(read_chunks(source, chunk_bytes=1 << 20)) as chunks:
        for chunk in chunks:
            # a 50 MB line would cost every preset a 50 MB match: a line's start decides
            return chunk.frame["text"].head(DETECT_LINES).str.slice(0, DETECT_LINE_BYTES)
    return pl.Series("text", [], dtype=pl.String)
