"""Rally's own JSON report, read into three flat tables: workloads, iterations, atomic actions.

Two shapes are accepted: ``rally task report --json`` (``{"info", "tasks": [...]}``, nested
atomic actions with start and finish times) and the older ``rally task results`` (a list of
workloads, no task uuid, atomic actions as ``{name: duration}`` with no start times, which
stay null). Times stay as Rally wrote them: UTC epoch seconds, floats.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from threadlog.errors import ThreadlogError

__all__ = ["ACTION_SCHEMA", "ITERATION_SCHEMA", "RallyReport", "load_report"]

ITERATION_SCHEMA = {
    "report_task": pl.Int64,  # index of the task in the report
    "workload": pl.Int64,  # 1..n within the task, in (subtask, position) order
    "row": pl.Int64,  # index of the iteration in the workload's data
    "timestamp": pl.Float64,
    "duration": pl.Float64,
    "idle_duration": pl.Float64,
    "failed": pl.Boolean,
    "error": pl.String,
}
ACTION_SCHEMA = {
    "report_task": pl.Int64,
    "workload": pl.Int64,
    "row": pl.Int64,
    "seq": pl.Int64,  # order of the action in its iteration, parents before children
    "parent_seq": pl.Int64,
    "name": pl.String,
    "parent": pl.String,
    "depth": pl.Int64,
    "started_at": pl.Float64,
    "finished_at": pl.Float64,
    "duration_s": pl.Float64,
    "failed": pl.Boolean,
}
SLA_TYPE = pl.List(pl.Struct({"criterion": pl.String, "success": pl.Boolean, "detail": pl.String}))
CONTEXT_TYPE = pl.List(
    pl.Struct(
        {
            "name": pl.String,
            "setup_s": pl.Float64,
            "setup_error": pl.String,
            "cleanup_s": pl.Float64,
            "cleanup_error": pl.String,
        }
    )
)
WORKLOAD_SCHEMA = {
    "report_task": pl.Int64,
    "workload": pl.Int64,
    "subtask": pl.String,
    "pass_sla": pl.Boolean,
    "sla": SLA_TYPE,
    "contexts": CONTEXT_TYPE,
}


@dataclass
class RallyReport:
    """One report file, flattened. `tasks` holds each task's uuid (None in the older shape)."""

    name: str
    shape: str  # "report" or "results"
    tasks: list[str | None]
    workloads: pl.DataFrame
    iterations: pl.DataFrame
    actions: pl.DataFrame


def load_report(path: str) -> RallyReport:
    """Read and flatten a report, or raise a `ThreadlogError` saying what is wrong with it."""
    raw = _read_bytes(path)
    from threadlog.rally_report_fast import read_report_fast  # noqa: PLC0415 (it imports this module)

    fast = read_report_fast(raw)
    if fast is not None:
        uuids, workloads, iterations, actions = fast
        return RallyReport(path, "report", uuids, workloads, iterations, actions)
    document = _parse_json(path, raw)
    if isinstance(document, dict) and isinstance(document.get("tasks"), list):
        shape, tasks = "report", document["tasks"]
    elif isinstance(document, list) and all(isinstance(w, dict) and "key" in w and "result" in w for w in document):
        shape, tasks = "results", [{"uuid": None, "subtasks": [{"workloads": document}]}]
    else:
        raise ThreadlogError(
            f"{path}: not a Rally report; give the output of `rally task report --json --out FILE` "
            "or of `rally task results`"
        )
    flat = _Flattener(shape)
    try:
        for index, task in enumerate(tasks):
            flat.task(index, task)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ThreadlogError(
            f"{path}: not a Rally report (unexpected content: {type(exc).__name__} {exc}); give the output of "
            "`rally task report --json --out FILE`"
        ) from None
    if not flat.iterations["row"]:
        raise ThreadlogError(f"{path}: the Rally report holds no iterations; nothing to join")
    return RallyReport(
        name=path,
        shape=shape,
        tasks=[t.get("uuid") for t in tasks],
        workloads=pl.DataFrame(flat.workloads, schema=WORKLOAD_SCHEMA),
        iterations=pl.DataFrame(flat.iterations, schema=ITERATION_SCHEMA),
        actions=pl.DataFrame(flat.actions, schema=ACTION_SCHEMA),
    )


def _read_bytes(path: str) -> bytes:
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(Path(path).suffix, open)
    try:
        with opener(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ThreadlogError(f"{path}: no such file; name a Rally report (`rally task report --json`)") from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise ThreadlogError(
            f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc}); is it complete?"
        ) from None


def _parse_json(path: str, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ThreadlogError(
            f"{path}: invalid or truncated JSON ({str(exc).splitlines()[0]}); give a complete Rally report"
        ) from None


def _error_text(error: Any) -> str | None:
    """Rally's ``[type, message, traceback]`` as ``type: message``; None when ok."""
    if not error:
        return None
    if isinstance(error, list):
        return ": ".join(str(part) for part in error[:2])
    return str(error)


def _seconds(started: Any, finished: Any) -> float | None:
    return finished - started if started is not None and finished is not None else None


class _Flattener:
    """Accumulates the report's rows column by column (one pass over the JSON)."""

    def __init__(self, shape: str):
        self.shape = shape
        self.workloads: dict[str, list[Any]] = {name: [] for name in WORKLOAD_SCHEMA}
        self.iterations: dict[str, list[Any]] = {name: [] for name in ITERATION_SCHEMA}
        self.actions: dict[str, list[Any]] = {name: [] for name in ACTION_SCHEMA}

    def task(self, index: int, task: dict[str, Any]) -> None:
        number = 0
        for subtask in task["subtasks"]:
            workloads = subtask["workloads"]
            if self.shape == "report":
                workloads = sorted(workloads, key=lambda w: w.get("position", 0))
            for workload in workloads:
                number += 1
                self.workload(index, number, subtask, workload)

    def workload(self, task: int, number: int, subtask: dict[str, Any], workload: dict[str, Any]) -> None:
        w = self.workloads
        w["report_task"].append(task)
        w["workload"].append(number)
        if self.shape == "report":
            w["subtask"].append(subtask.get("title"))
            w["pass_sla"].append(workload.get("pass_sla"))
            w["sla"].append((workload.get("sla_results") or {}).get("sla", []))
            w["contexts"].append([_context(c) for c in workload.get("contexts_results") or []])
            data = workload["data"]
        else:
            w["subtask"].append(None)
            sla = workload.get("sla") or []
            w["pass_sla"].append(all(c.get("success") for c in sla) if sla else None)
            w["sla"].append(sla)
            w["contexts"].append([])
            data = workload["result"]
        self.data(task, number, data)

    def data(self, task: int, number: int, data: list[dict[str, Any]]) -> None:
        it = self.iterations
        # the report's bulk: appends bound once, not looked up per iteration
        errors, timestamps, durations, idles = it["error"], it["timestamp"], it["duration"], it["idle_duration"]
        for row, iteration in enumerate(data):
            errors.append(_error_text(iteration.get("error")))
            timestamps.append(float(iteration["timestamp"]))
            durations.append(float(iteration["duration"]))
            idles.append(float(iteration.get("idle_duration") or 0.0))
            actions = iteration.get("atomic_actions")
            if not actions:
                continue
            if isinstance(actions, dict):  # the older shape: {name: duration}
                self.durations_only(task, number, row, actions)
            else:
                self.nested(task, number, row, actions, None, None, 0, [0])
        n = len(data)
        it["report_task"].extend([task] * n)
        it["workload"].extend([number] * n)
        it["row"].extend(range(n))
        it["failed"].extend(e is not None for e in errors[len(errors) - n :])

    def nested(
        self,
        task: int,
        number: int,
        row: int,
        actions: list[dict[str, Any]],
        parent: str | None,
        parent_seq: int | None,
        depth: int,
        counter: list[int],
    ) -> None:
        a = self.actions
        for action in actions:
            seq = counter[0]
            counter[0] += 1
            started, finished = action.get("started_at"), action.get("finished_at")
            a["report_task"].append(task)
            a["workload"].append(number)
            a["row"].append(row)
            a["seq"].append(seq)
            a["parent_seq"].append(parent_seq)
            a["name"].append(action["name"])
            a["parent"].append(parent)
            a["depth"].append(depth)
            a["started_at"].append(started)
            a["finished_at"].append(finished)
            a["duration_s"].append(_seconds(started, finished))
            a["failed"].append(bool(action.get("failed", False)))
            if action.get("children"):
                self.nested(task, number, row, action["children"], action["name"], seq, depth + 1, counter)

    def durations_only(self, task: int, number: int, row: int, actions: dict[str, Any]) -> None:
        a = self.actions
        for seq, (name, duration) in enumerate(actions.items()):
            for column, value in (
                ("report_task", task),
                ("workload", number),
                ("row", row),
                ("seq", seq),
                ("parent_seq", None),
                ("name", name),
                ("parent", None),
                ("depth", 0),
                ("started_at", None),
                ("finished_at", None),
                ("duration_s", None if duration is None else float(duration)),
                ("failed", False),
            ):
                a[column].append(value)


def _context(result: dict[str, Any]) -> dict[str, Any]:
    """One context's setup and cleanup: seconds taken and error, as Rally recorded them."""
    setup = result.get("setup") or {}
    cleanup = result.get("cleanup") or {}
    return {
        "name": result.get("plugin_name") or result.get("name"),
        "setup_s": _seconds(setup.get("started_at"), setup.get("finished_at")),
        "setup_error": _error_text(setup.get("error")),
        "cleanup_s": _seconds(cleanup.get("started_at"), cleanup.get("finished_at")),
        "cleanup_error": _error_text(cleanup.get("error")),
    }
