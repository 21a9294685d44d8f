"""Shared fixtures: the sample logs, and stores parsed from them once per session."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import Result

from threadlog.grammars import grammar_from_format
from threadlog.ingest import IngestOptions, ingest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"
RALLY = SAMPLES / "rally"
OPENSTACK = SAMPLES / "openstack"
CASES = ["c04-failures", "c05-serial", "c07-multi-workload", "c09-pid-reuse"]
VARIANTS = ["thread", "blog", "default"]
BLOG_FORMAT = "%(process)d %(thread)d %(levelname)s: %(message)s"
BLOG_PREFIX = "%(process)d ERROR: "


def rally_log(case: str, variant: str) -> Path:
    """The gzip copy of a Rally case's input log."""
    return RALLY / case / f"input-{variant}.log.gz"


def truth(case: str) -> pl.DataFrame:
    """A case's truth table, one row per physical line, typed."""
    frame = pl.read_csv(RALLY / case / "truth.csv.gz", infer_schema=False)
    return frame.with_columns(
        pl.col("line", "record_line").cast(pl.Int64),
        pl.col("workload", "iteration").replace("", None).cast(pl.Int64),
        pl.col("task", "thread_ident").replace("", None),
    )


def parse_case(case: str, variant: str, store: Path) -> dict:
    """Parse one case's input the way a user would (the blog format needs --format)."""
    options = IngestOptions(store=str(store))
    if variant == "blog":
        options.grammar = grammar_from_format(BLOG_FORMAT, exception_prefix=BLOG_PREFIX)
    return ingest([str(rally_log(case, variant))], options)


@pytest.fixture(scope="session")
def case_store(tmp_path_factory: pytest.TempPathFactory):
    """A function (case, variant) -> (store path, summary), parsing each input once."""
    cache: dict[tuple[str, str], tuple[Path, dict]] = {}

    def get(case: str, variant: str) -> tuple[Path, dict]:
        if (case, variant) not in cache:
            store = tmp_path_factory.mktemp(f"{case}-{variant}") / "store"
            cache[(case, variant)] = (store, parse_case(case, variant, store))
        return cache[(case, variant)]

    return get


def assert_ok(result: Result) -> None:
    """The command succeeded; show what it said if not."""
    assert result.exit_code == 0, (result.exception, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr  # stdout may show a log's own tracebacks


def assert_clean_error(result: Result, *words: str) -> str:
    """Non-zero exit, no uncaught exception, exactly one line on stderr holding `words` (any case)."""
    assert result.exit_code != 0
    # CliRunner turns an uncaught exception into exit code 1 and keeps it: rule that out
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    return lines[0]
