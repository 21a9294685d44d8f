"""Line grammars: which lines start a record, and which are oslo exception-prefix lines.

A `LineGrammar` holds the header patterns (tried in order) and the exception-prefix patterns
of one log. It comes from a built-in preset (detected or named), from ``--format``, or from
the logging options of a ``rally.conf``.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

from threadlog.errors import ThreadlogError
from threadlog.formats import LinePattern, compile_format, without_context
from threadlog.summary import FormatSummary

__all__ = ["PRESETS", "LineGrammar", "grammar_from_format", "grammar_from_rally_conf", "preset"]

OSLO_DATEFMT = "%Y-%m-%d %H:%M:%S"
OSLO_CONTEXT = (
    "%(asctime)s.%(msecs)03d %(process)d {ident}%(levelname)s %(name)s "
    "[%(request_id)s %(user_identity)s] %(instance)s%(message)s"
)
# oslo's logging_exception_prefix; its literal ERROR (TRACE in older releases) is matched by
# the exc_level pseudo-field so that both generations of tracebacks join their record.
OSLO_EXCEPTION_PREFIX = "%(asctime)s.%(msecs)03d %(process)d ERROR %(name)s %(instance)s"
OSLO_DEBUG_SUFFIX = "%(funcName)s %(pathname)s:%(lineno)d"


@dataclass(eq=False)  # compared and hashed by identity: one object per grammar in use
class LineGrammar:
    """How to read the lines of one log."""

    name: str  # preset name, "--format" or "rally.conf"
    formats: list[str]
    headers: list[LinePattern]
    exceptions: list[LinePattern] = field(default_factory=list)
    detected: bool = False

    @property
    def attributes(self) -> set[str]:
        out: set[str] = set()
        for p in self.headers:
            out |= p.attributes
        return out

    def describe(self) -> FormatSummary:
        """What the parse summary says of the grammar."""
        return FormatSummary(self.name, list(self.formats), [p.format for p in self.exceptions], self.detected)


def _exception_patterns(prefix: str, style: str, datefmt: str | None) -> list[LinePattern]:
    if style == "%" and " ERROR " in prefix:
        prefix = prefix.replace(" ERROR ", " %(exc_level)s ", 1)
    return [compile_format(prefix, style, datefmt, exception_prefix=True)]


def _oslo(name: str, ident: str) -> LineGrammar:
    fmt = OSLO_CONTEXT.format(ident=ident)
    return LineGrammar(
        name=name,
        formats=[fmt + " " + OSLO_DEBUG_SUFFIX + "  (suffix on DEBUG records only)"],
        headers=[compile_format(fmt, "%", OSLO_DATEFMT, debug_suffix=" " + OSLO_DEBUG_SUFFIX)],
        exceptions=_exception_patterns(OSLO_EXCEPTION_PREFIX, "%", OSLO_DATEFMT),
    )


def _plain(name: str, fmt: str, datefmt: str | None = None, prefix: str | None = None) -> LineGrammar:
    return LineGrammar(
        name=name,
        formats=[fmt],
        headers=[compile_format(fmt, "%", datefmt)],
        exceptions=_exception_patterns(prefix, "%", datefmt) if prefix else [],
    )


def _build_presets() -> dict[str, LineGrammar]:
    ha = "%(asctime)s.%(msecs)03d %(levelname)s (%(threadName)s) [%(name)s] %(message)s"
    grammars = [
        _oslo("oslo", ""),
        _oslo("oslo-thread", "%(thread)d "),
        _oslo("oslo-threadname", "%(threadName)s "),
        _oslo("oslo-thread-threadname", "%(thread)d %(threadName)s "),
        _plain("pid-thread", "%(process)d %(thread)d %(levelname)s: %(message)s", prefix="%(process)d ERROR: "),
        _plain("home-assistant", ha, OSLO_DATEFMT),
        _plain("home-assistant-seconds", ha.replace(".%(msecs)03d", ""), OSLO_DATEFMT),
        _plain("common", "%(asctime)s - %(name)s - %(levelname)s - %(message)s"),
        _plain("basic", "%(levelname)s:%(name)s:%(message)s"),
    ]
    return {g.name: g for g in grammars}


PRESETS = _build_presets()


def preset(name: str) -> LineGrammar:
    """A built-in grammar by name."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ThreadlogError(f"unknown preset {name!r}; presets are: {', '.join(PRESETS)}") from None


def grammar_from_format(
    fmt: str,
    style: str = "%",
    datefmt: str | None = None,
    exception_prefix: str | None = None,
) -> LineGrammar:
    """The grammar for a format string given with ``--format``.

    Without `exception_prefix`, a ``%``-style format that writes a timestamp and a pid also
    recognises oslo's default exception prefix, since oslo writes it whatever the format.
    """
    header = compile_format(fmt, style, datefmt)
    exceptions = []
    if exception_prefix is not None:
        exceptions = _exception_patterns(exception_prefix, style, datefmt)
    elif style == "%" and {"asctime", "process"} <= header.attributes:
        exceptions = _exception_patterns(OSLO_EXCEPTION_PREFIX, "%", datefmt or OSLO_DATEFMT)
    return LineGrammar("--format", [fmt], [header], exceptions)


def _conf_value(parser: configparser.RawConfigParser, key: str) -> str | None:
    if not parser.has_option("DEFAULT", key):
        return None
    value = parser.get("DEFAULT", key)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]  # oslo.config strips surrounding quotes, keeping inner blanks
    return value


def grammar_from_rally_conf(path: str) -> LineGrammar:
    """The grammar a Rally (oslo.log) deployment writes, from its ``rally.conf``."""
    conf = Path(path)
    if not conf.is_file():
        raise ThreadlogError(f"{path}: no such rally.conf; check the --rally-conf path")
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(conf.read_text(errors="replace"))
    except configparser.MissingSectionHeaderError as exc:
        raise ThreadlogError(
            f"{path}: not a rally.conf (line {exc.lineno} is outside any ini section); "
            "give the rally.conf the run was logged with"
        ) from None
    except configparser.ParsingError as exc:
        lineno = exc.errors[0][0] if exc.errors else "?"
        raise ThreadlogError(f"{path}: not a readable rally.conf (line {lineno} is not 'key = value')") from None
    except configparser.Error as exc:
        reason = str(exc.message).splitlines()[0].rstrip(".:")
        raise ThreadlogError(f"{path}: not a readable rally.conf ({reason})") from None
    datefmt = _conf_value(parser, "log_date_format") or OSLO_DATEFMT
    context = _conf_value(parser, "logging_context_format_string") or OSLO_CONTEXT.format(ident="")
    default = _conf_value(parser, "logging_default_format_string")
    suffix = _conf_value(parser, "logging_debug_format_suffix")
    if suffix is None:
        suffix = OSLO_DEBUG_SUFFIX
    prefix = _conf_value(parser, "logging_exception_prefix") or OSLO_EXCEPTION_PREFIX
    tail = " " + suffix.strip() if suffix.strip() else None
    # the context pattern already reads oslo's default format, its no-context form "[-]"
    covered = default is None or default in (context, without_context(context))
    formats = [context] + ([] if covered else [default])
    return LineGrammar(
        name="rally.conf",
        formats=formats,
        headers=[compile_format(f, "%", datefmt, debug_suffix=tail) for f in formats],
        exceptions=_exception_patterns(prefix, "%", datefmt),
    )
