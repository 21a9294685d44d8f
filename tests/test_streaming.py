"""Reconstruction runs chunk by chunk: however a log is cut, the store is the same."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import BLOG_FORMAT, BLOG_PREFIX, CASES, assert_ok, rally_log
from threadlog import store as store_module
from threadlog.cli import app
from threadlog.grammars import grammar_from_format
from threadlog.ingest import IngestOptions, ingest

RECONSTRUCTED = ["line", "thread_uid", "task", "workload", "iteration", "attribution"]


def tables(store: Path) -> dict[str, pl.DataFrame]:
    out = {t: pl.read_parquet(store / f"{t}.parquet") for t in ("records", "threads", "iterations")}
    out["records"] = out["records"].select(RECONSTRUCTED)
    return out


def parse(case: str, variant: str, store: Path, chunk_bytes: int | None = None) -> dict:
    options = IngestOptions(store=str(store))
    if chunk_bytes is not None:
        options.chunk_bytes = chunk_bytes
    if variant == "blog":
        options.grammar = grammar_from_format(BLOG_FORMAT, exception_prefix=BLOG_PREFIX)
    return ingest([str(rally_log(case, variant))], options)


@pytest.mark.parametrize("variant", ["thread", "blog", "default"])
@pytest.mark.parametrize("case", CASES)
def test_small_chunks_give_the_same_store(tmp_path, case, variant):
    """Threads, iterations and every record's attribution come out the same whether the log
    is one chunk or dozens: the state a chunk carries into the next is complete.

    (The first chunk must hold a marker, or the automatic time-gap rule would be on: 24 KiB
    holds one in every case.)
    """
    whole = parse(case, variant, tmp_path / "whole")
    cut = parse(case, variant, tmp_path / "cut", chunk_bytes=24 << 10)
    assert whole["bytes"] > 4 * (24 << 10)  # really several chunks
    expected, got = tables(tmp_path / "whole"), tables(tmp_path / "cut")
    for name in expected:
        assert got[name].equals(expected[name]), name
    for figure in ("logical_threads", "recycled_idents", "tasks", "workloads", "iterations"):
        assert cut[figure] == whole[figure], figure


def test_tables_bigger_than_a_sort_batch_are_folders_of_sorted_parts(tmp_path, monkeypatch):
    """A threads table sorted in batches reads back as one table, in the order threads began,
    and the commands read it as they read a single file."""
    parse("c07-multi-workload", "thread", tmp_path / "one")
    monkeypatch.setattr(store_module, "SORT_BATCH_ROWS", 100)
    parse("c07-multi-workload", "thread", tmp_path / "batched", chunk_bytes=24 << 10)
    folder = tmp_path / "batched" / "threads.parquet"
    assert folder.is_dir()
    assert len(list(folder.iterdir())) > 5
    one, batched = tables(tmp_path / "one"), tables(tmp_path / "batched")
    assert batched["threads"].equals(one["threads"])
    assert batched["iterations"].equals(one["iterations"])
    runner = CliRunner()
    for args in (["threads", "--recycled"], ["iterations"], ["timeline", "--iteration", "3", "--workload", "2"]):
        result = runner.invoke(app, [*args, "--store", str(tmp_path / "batched")])
        assert_ok(result)
        expected = runner.invoke(app, [*args, "--store", str(tmp_path / "one")])
        assert result.stdout == expected.stdout
