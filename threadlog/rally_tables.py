"""The store's Rally tables, written at the end of a parse: Rally's columns in the iterations
table, ``atomic_actions`` and ``workloads``. Without a report the Rally columns stay null (as
the parse wrote them), ``atomic_actions`` has no rows and ``workloads`` comes from the log alone."""

from __future__ import annotations

import polars as pl

from threadlog.rally_join import RALLY_COLUMNS, empty_actions, join_reports
from threadlog.rally_report import RallyReport
from threadlog.store import StoreWriter
from threadlog.summary import RallyJoin
from threadlog.workloads import build_workloads

__all__ = ["write_rally_tables"]


def write_rally_tables(
    writer: StoreWriter, reports: list[RallyReport], utc_offset: int | None, workload_messages: pl.DataFrame
) -> list[RallyJoin]:
    """Join `reports` (if any) to the new store's iterations and write the Rally tables into
    it (`workload_messages`: the records that describe workloads); the join's figures, one
    dict per report. Raises `ThreadlogError` before anything of the old store is touched."""
    # the parse wrote the iterations with Rally's columns empty: only a report rewrites them
    iterations = pl.scan_parquet(writer.path("iterations"))
    report_workloads = None
    summary: list[RallyJoin] = []
    if reports:
        result = join_reports(iterations.drop(*RALLY_COLUMNS).collect(), reports, utc_offset)
        table, actions, report_workloads, summary = result.iterations, result.actions, result.workloads, result.summary
        writer.write_table("iterations", table)
        iterations = table.lazy()
    else:
        actions = empty_actions()
    writer.write_table("atomic_actions", actions)
    writer.write_table("workloads", build_workloads(workload_messages, iterations, report_workloads))
    return summary
