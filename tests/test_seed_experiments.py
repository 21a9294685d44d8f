"""The three experiments that started threadlog, run for real: threads and processes log
with Python's own `logging`, then threadlog counts the real threads back.

Threads end and the next ones start 0.3 s later, so their recycled idents are told apart by
the time-gap rule (default 0.2 s); a thread's own lines are a few milliseconds apart.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from threadlog.grammars import grammar_from_format
from threadlog.ingest import IngestOptions, ingest

FORMAT = "%(asctime)s %(process)d %(thread)d %(levelname)s: %(message)s"
PAUSE = 0.3


def _logger(path: Path) -> logging.Logger:
    log = logging.getLogger(f"seed.{path.stem}")
    log.handlers.clear()
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(FORMAT))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


def _work(log: logging.Logger, name: str, together: threading.Barrier | None = None) -> None:
    if together is not None:
        together.wait()
    for step in range(3):
        log.info("%s step %d", name, step)
        time.sleep(0.005)


def _sequential_threads(log: logging.Logger, count: int, prefix: str) -> None:
    for i in range(count):
        t = threading.Thread(target=_work, args=(log, f"{prefix}{i}"))
        t.start()
        t.join()
        time.sleep(PAUSE)


def _process(path: Path, index: int) -> None:
    log = _logger(path)
    _sequential_threads(log, 3, f"p{index}-t")


def _parse(tmp_path: Path, log_path: Path) -> tuple[dict, pl.DataFrame]:
    store = tmp_path / "store"
    grammar = grammar_from_format(FORMAT)
    summary = ingest([str(log_path)], IngestOptions(grammar=grammar, store=str(store)))
    return summary, pl.read_parquet(store / "records.parquet")


def _close(log: logging.Logger) -> None:
    for h in log.handlers:
        h.close()


def test_experiment_1_five_threads_one_after_another(tmp_path):
    """Five threads started one after another are five threads, though idents recur."""
    path = tmp_path / "exp1.log"
    log = _logger(path)
    _sequential_threads(log, 5, "t")
    _close(log)
    summary, records = _parse(tmp_path, path)
    assert summary["logical_threads"] == 5
    by_thread = records.group_by("thread_uid").agg(pl.col("message").str.extract(r"^(t\d)").unique())
    assert by_thread["message"].list.len().to_list() == [1] * 5  # no thread mixes two workers


def test_experiment_2_ten_threads_from_five_idents(tmp_path):
    """Two waves of five concurrent threads: ten threads on five recycled idents."""
    path = tmp_path / "exp2.log"
    log = _logger(path)
    for wave in range(2):
        # All five live at once, so a wave's idents are distinct: on a loaded machine a thread
        # could otherwise finish before the last one starts and hand it its ident without a pause.
        together = threading.Barrier(5)
        threads = [threading.Thread(target=_work, args=(log, f"w{wave}t{i}", together)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(PAUSE)
    _close(log)
    summary, records = _parse(tmp_path, path)
    # CPython usually hands the second wave the first wave's five idents, but it need not
    # (a loaded machine may start a thread before another's stack is freed): count what it did.
    wave = pl.col("message").str.extract(r"^w(\d)t").cast(pl.Int64)
    idents = records.group_by(wave.alias("wave")).agg(pl.col("thread").unique())
    first, second = (set(idents.filter(pl.col("wave") == w)["thread"].item()) for w in (0, 1))
    assert len(first) == len(second) == 5
    assert first & second, "the second wave reuses some of the first wave's idents"
    assert summary["logical_threads"] == 10
    assert summary["recycled_idents"]["count"] == len(first & second)
    workers = records.group_by("thread_uid").agg(pl.col("message").str.extract(r"^(w\dt\d)").unique())
    assert workers["message"].list.len().max() == 1


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_experiment_3_nine_threads_in_three_processes_sharing_idents(tmp_path):
    """Three forked processes, three threads each: nine threads, idents shared across pids."""
    path = tmp_path / "exp3.log"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_process, args=(path, i)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    summary, records = _parse(tmp_path, path)
    assert summary["processes"] == 3
    assert summary["logical_threads"] == 9
    idents_per_pid = records.group_by("pid").agg(pl.col("thread").unique())
    shared = set.intersection(*(set(x) for x in idents_per_pid["thread"].to_list()))
    assert shared, "forked processes hand out the same idents"
