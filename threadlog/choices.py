"""Choices that both the CLI's options and the views use, in a module that imports nothing
heavy: `threadlog --help` declares every option without loading polars."""

from __future__ import annotations

__all__ = ["LEVEL_RANK", "SORTABLE"]

# Python's levels, plus oslo's and Rally's own (TRACE below DEBUG, AUDIT just above INFO).
LEVEL_RANK = {
    "TRACE": 5,
    "RALLYDEBUG": 9,
    "DEBUG": 10,
    "INFO": 20,
    "AUDIT": 21,
    "WARN": 30,
    "WARNING": 30,
    "ERROR": 40,
    "CRITICAL": 50,
    "FATAL": 50,
}

# the iterations listing's --sort columns
SORTABLE = ("start_ts", "duration_s", "rally_duration_s", "slowest_action_s", "iteration", "workload", "status")
