"""The one exception type for user errors, and the exit codes the CLI returns."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "ThreadlogError"]


class ExitCode(IntEnum):
    """Process exit codes of the `threadlog` command."""

    OK = 0
    USER_ERROR = 1
    USAGE = 2
    INTERRUPTED = 130


class ThreadlogError(Exception):
    """Something the user can fix: a missing file, a format that fits nothing, no store yet.

    The message is one line that says what is wrong and what to do; the CLI prints it
    without a traceback and exits with `ExitCode.USER_ERROR`.
    """
