#!/usr/bin/env python3
"""Build stores for a corpus of Rally cases, and compare two sets of stores table by table.

Used to check that a rewrite of the parse pipeline leaves every store as it was::

    python benchmarks/store_equivalence.py build CORPUS OUT [--chunk-bytes N]
    python benchmarks/store_equivalence.py compare BASELINE CANDIDATE

`build` parses each case folder of CORPUS (a folder per case holding ``input-thread.log``,
``input-default.log``, ``input-blog.log``, and ``truth.log`` with its ``rally.conf``) into
``OUT/<case>/<variant>/``. `compare` finds every store under BASELINE and checks the one at the
same place under CANDIDATE: each of ``records``, ``threads`` and ``iterations`` must have the
same rows, in the same order, with the same values in every column the baseline has (the
candidate may add columns; ``meta.json`` is not compared). Exit status 1 on any difference.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

TABLES = ("records", "threads", "iterations")
VARIANTS = ("thread", "default", "blog", "truth")
BLOG_FORMAT = "%(process)d %(thread)d %(levelname)s: %(message)s"
BLOG_PREFIX = "%(process)d ERROR: "


def build(corpus: Path, out: Path, chunk_bytes: int | None) -> None:
    """Parse every case and variant of `corpus` into a store under `out`."""
    from threadlog.grammars import grammar_from_format, grammar_from_rally_conf  # noqa: PLC0415
    from threadlog.ingest import IngestOptions, ingest  # noqa: PLC0415

    cases = sorted(p for p in corpus.iterdir() if (p / "input-thread.log").is_file())
    if not cases:
        sys.exit(f"no case folders (with input-thread.log) in {corpus}")
    for case in cases:
        for variant in VARIANTS:
            log = case / ("truth.log" if variant == "truth" else f"input-{variant}.log")
            options = IngestOptions(store=str(out / case.name / variant))
            if chunk_bytes is not None:
                options.chunk_bytes = chunk_bytes
            if variant == "blog":
                options.grammar = grammar_from_format(BLOG_FORMAT, exception_prefix=BLOG_PREFIX)
            elif variant == "truth":
                options.grammar = grammar_from_rally_conf(str(case / "rally.conf"))
            started = time.perf_counter()
            summary = ingest([str(log)], options)
            took = time.perf_counter() - started
            print(f"{case.name}/{variant}: {summary['records']} records, {took:.2f} s", flush=True)


def differences(baseline: Path, candidate: Path) -> list[str]:
    """What differs between the tables of two stores (empty when they agree)."""
    found = []
    for table in TABLES:
        want = pl.read_parquet(baseline / f"{table}.parquet")
        path = candidate / f"{table}.parquet"
        if not path.is_file():
            found.append(f"{table}: missing")
            continue
        got = pl.read_parquet(path)
        missing = [c for c in want.columns if c not in got.columns]
        if missing:
            found.append(f"{table}: columns missing {missing}")
            continue
        if got.height != want.height:
            found.append(f"{table}: {got.height} rows, baseline {want.height}")
            continue
        got = got.select(want.columns)
        for column in want.columns:
            a, b = want[column], got[column]
            if a.dtype != b.dtype:
                found.append(f"{table}.{column}: type {b.dtype}, baseline {a.dtype}")
            elif not a.equals(b):
                differ = (~a.eq_missing(b)).arg_true()
                at = differ[0]
                found.append(
                    f"{table}.{column}: {differ.len()} rows differ, first at row {at}: {b[at]!r}, baseline {a[at]!r}"
                )
    return found


def compare(baseline: Path, candidate: Path) -> int:
    """Compare every store under `baseline` with its twin under `candidate`; 1 if any differ."""
    stores = sorted(p.parent for p in baseline.rglob("records.parquet"))
    if not stores:
        sys.exit(f"no stores under {baseline}")
    failed = 0
    for store in stores:
        name = store.relative_to(baseline)
        found = differences(store, candidate / name)
        failed += bool(found)
        print(f"{name}: {'DIFFERENT' if found else 'same'}")
        for line in found:
            print(f"    {line}")
    print(f"{len(stores) - failed} of {len(stores)} stores the same")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="parse every case of a corpus into stores")
    b.add_argument("corpus", type=Path)
    b.add_argument("out", type=Path)
    b.add_argument("--chunk-bytes", type=int, default=None, help="chunk size (default: the parser's)")
    c = commands.add_parser("compare", help="compare two folders of stores built by `build`")
    c.add_argument("baseline", type=Path)
    c.add_argument("candidate", type=Path)
    args = parser.parse_args()
    if args.command == "build":
        build(args.corpus, args.out, args.chunk_bytes)
        return 0
    return compare(args.baseline, args.candidate)


if __name__ == "__main__":
    sys.exit(main())
