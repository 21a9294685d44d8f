"""Logging format strings, compiled into line patterns.

A `logging` format string (``%``, ``{`` or ``$`` style) is read by a small pyparsing grammar
into literals and fields; `compile_format` turns those into typed segments (`segments`:
text, a field with its value pattern, oslo's context bracket and debug suffix) and renders
from them an anchored regular expression with a named group per field, and a quicker one,
which the parser runs in bulk with polars (the Rust regex engine), never line by line.

Grammar (one rule per style)::

    percent  := ( "%%" | "%(" name ")" flags? width? ("." precision)? conversion | text )*
    brace    := ( "{{" | "}}" | "{" name ("!" conv)? (":" spec)? "}" | text )*
    dollar   := ( "$$" | "${" name "}" | "$" identifier | text )*

oslo.log's context brackets (``[%(request_id)s %(user_identity)s]``, or any bracket of
request-context fields) are also accepted in their no-context form ``[-]``, which oslo writes
whenever a record has no request context (its fields are null then, unless a lone field can
read "-" itself); a literal ``[-]`` (oslo's default format) also
reads a context bracket, kept whole as ``context``. Without a datefmt, ``%(asctime)s`` is
logging's default ``%Y-%m-%d %H:%M:%S,mmm``, or before ``.%(msecs)03d`` ``%Y-%m-%d %H:%M:%S``
(oslo's way; logging's own ``,mmm`` there is read too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyparsing as pp

from threadlog.errors import ThreadlogError
from threadlog.segments import (
    INSTANCE,
    LAZY,
    LEVEL,
    REQUEST_ID,
    ContextBracket,
    DebugSuffix,
    FastStep,
    NoContext,
    Segment,
    Text,
    Value,
    regex_escape,
    render_fast,
    render_full,
)

__all__ = [
    "Field",
    "LinePattern",
    "Literal",
    "column_name",
    "compile_format",
    "parse_format",
    "strftime_regex",
]

STYLES = ("%", "{", "$")

# ---------------------------------------------------------------------------------------
# tokens


@dataclass(frozen=True)
class Literal:
    """Text that appears verbatim in every rendered line."""

    text: str


@dataclass(frozen=True)
class Field:
    """One ``LogRecord`` attribute (or custom field) with its formatting spec."""

    name: str
    align: str | None = None  # "<" left, ">" right, "^" centre, None: no padding
    width: int | None = None
    fill: str = " "
    conversion: str | None = None  # printf / format-spec type letter: d, f, x, s, ...
    grouping: str | None = None  # "," or "_" between thousands ("{thread:,d}")
    quoted: bool = False  # rendered with repr(): a string arrives in quotes


Token = Literal | Field


# ---------------------------------------------------------------------------------------
# the grammar


def _percent_grammar() -> pp.ParserElement:
    name = pp.Regex(r"[^)]+")("name").set_name("field name")
    flags = pp.Opt(pp.Word("-#0 +"))("flags").set_name("flags")
    width = pp.Opt(pp.Word(pp.nums))("width").set_name("width")
    precision = pp.Opt(pp.Suppress(".") + pp.Word(pp.nums))("precision").set_name("precision")
    conversion = pp.Char("diouxXeEfFgGcrsa")("conversion").set_name("conversion")
    field_ = pp.Suppress("%(") + name + pp.Suppress(")") + flags + width + precision + conversion
    field_ = field_.set_name("%-field").set_parse_action(_percent_field)
    escaped = pp.Literal("%%").set_parse_action(lambda: Literal("%")).set_name("%%")
    text = pp.Regex(r"[^%]+").set_parse_action(lambda t: Literal(t[0])).set_name("text")
    return pp.ZeroOrMore(escaped | field_ | text).leave_whitespace().parse_with_tabs()


def _percent_field(t: pp.ParseResults) -> Field:
    flags = t.get("flags") or ""
    width = int(t["width"]) if t.get("width") else None
    align = None
    if width is not None:
        align = "<" if "-" in flags else ">"
    conversion = t["conversion"]
    return Field(t["name"], align=align, width=width, conversion=conversion, quoted=conversion in ("r", "a"))


_SPEC = re.compile(
    r"(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?#?(?P<zero>0)?(?P<width>\d+)?(?P<grouping>[,_])?"
    r"(?:\.\d+)?(?P<type>[bcdeEfFgGnosxX%])?$"
)


def _brace_grammar() -> pp.ParserElement:
    name = pp.Regex(r"[^{}!:]+")("name").set_name("field name")
    conv = pp.Opt(pp.Suppress("!") + pp.Char("rsa"))("conv").set_name("conversion")
    spec = pp.Opt(pp.Suppress(":") + pp.Regex(r"[^{}]*"))("spec").set_name("format spec")
    field_ = (pp.Suppress("{") + name + conv + spec + pp.Suppress("}")).set_name("{-field")
    field_ = field_.set_parse_action(_brace_field)
    escaped = (pp.Literal("{{") | pp.Literal("}}")).set_parse_action(lambda t: Literal(t[0][0]))
    text = pp.Regex(r"[^{}]+").set_parse_action(lambda t: Literal(t[0])).set_name("text")
    return pp.ZeroOrMore(escaped | field_ | text).leave_whitespace().parse_with_tabs()


def _brace_field(t: pp.ParseResults) -> Field:
    spec = t["spec"][0] if t.get("spec") else ""
    m = _SPEC.match(spec)
    if m is None:
        raise pp.ParseFatalException(f"bad format spec {spec!r}")
    width = int(m["width"]) if m["width"] else None
    align = m["align"] if width is not None else None
    if align == "=":
        align = ">"
    if width is not None and align is None:
        align = "natural"  # strings pad right, numbers pad left: decided by the field
    # zero padding ("{msecs:03.0f}") is part of the digits the number pattern accepts
    fill = m["fill"] or " "
    quoted = bool(t.get("conv")) and t["conv"][0] in ("r", "a")
    return Field(
        t["name"], align=align, width=width, fill=fill, conversion=m["type"], grouping=m["grouping"], quoted=quoted
    )


def _dollar_grammar() -> pp.ParserElement:
    ident = pp.Regex(r"[_a-zA-Z][_a-zA-Z0-9]*")
    braced = (pp.Suppress("${") + ident + pp.Suppress("}")).set_name("${field}")
    plain = (pp.Suppress("$") + ident).set_name("$field")
    field_ = (braced | plain).set_parse_action(lambda t: Field(t[0]))
    escaped = pp.Literal("$$").set_parse_action(lambda: Literal("$"))
    text = pp.Regex(r"[^$]+").set_parse_action(lambda t: Literal(t[0])).set_name("text")
    return pp.ZeroOrMore(escaped | field_ | text).leave_whitespace().parse_with_tabs()


_GRAMMARS = {"%": _percent_grammar(), "{": _brace_grammar(), "$": _dollar_grammar()}


def parse_format(fmt: str, style: str = "%") -> list[Token]:
    """Read a logging format string into literals and fields (adjacent literals merged)."""
    if style not in STYLES:
        raise ThreadlogError(f"unknown format style {style!r}: use one of % {{ $")
    try:
        parsed = _GRAMMARS[style].parse_string(fmt, parse_all=True)
    except pp.ParseBaseException as exc:
        raise ThreadlogError(
            f"cannot read format string {fmt!r} ({style}-style) at column {exc.col}: check its fields, or pass --style"
        ) from None
    tokens: list[Token] = []
    for tok in parsed:
        if isinstance(tok, Literal) and tokens and isinstance(tokens[-1], Literal):
            tokens[-1] = Literal(tokens[-1].text + tok.text)
        else:
            tokens.append(tok)
    if not any(isinstance(t, Field) for t in tokens):
        raise ThreadlogError(f"format string {fmt!r} has no fields: is --style right?")
    return tokens


# ---------------------------------------------------------------------------------------
# value patterns

INT = r"-?\d+"
FLOAT = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
HEX = r"[0-9a-fA-F]+"
WORD = r"\S+?"  # lazy: a name stops at the first separator that lets the line match
LAZY1 = r".+?"

# What each LogRecord attribute looks like when rendered with %s / {} (its natural form).
NATURAL = {
    "created": FLOAT,
    "relativeCreated": FLOAT,
    "msecs": FLOAT,
    "process": INT,
    "thread": INT,
    "lineno": INT,
    "levelno": INT,
    "levelname": LEVEL,
    "name": WORD,
    "module": WORD,
    "funcName": WORD,
    "filename": WORD,
    "pathname": WORD,
    "processName": LAZY1,
    "threadName": LAZY1,
    "taskName": LAZY1,
    "message": LAZY,
    "request_id": REQUEST_ID,
    "user_identity": LAZY,
    "global_request_id": WORD,
    # oslo's instance field renders as "[instance: UUID] " or nothing; keep just the UUID
    "instance": rf"(?:{INSTANCE})?",
    # the level word oslo writes into exception-prefix lines (newer ERROR, older TRACE)
    "exc_level": r"(?:ERROR|TRACE)",
}
INTS = {"process", "thread", "lineno", "levelno"}
FLOATS = {"created", "relativeCreated", "msecs"}
NUMERIC = INTS | FLOATS
# Fields folded into `ts`, not kept as columns of their own.
TIME_FIELDS = {"asctime", "msecs", "created"}
# Fields whose pattern above already holds its own group.
SELF_GROUPED = {"instance", "exc_level"}

# Record attributes with a fixed column name in the records table.
CORE_COLUMNS = {
    "process": "pid",
    "thread": "thread",
    "threadName": "thread_name",
    "levelname": "level",
    "name": "logger",
    "request_id": "request_id",
    "message": "message",
}
RESERVED = {
    "source",
    "line",
    "line_end",
    "ts",
    "parsed",
    "thread_uid",
    "task",
    "workload",
    "iteration",
    "attribution",
    "generation",
    "reason",
}


def column_name(attr: str) -> str:
    """The records-table column for a format field: fixed for core fields, else snake_case."""
    if attr in CORE_COLUMNS:
        return CORE_COLUMNS[attr]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", attr).lower()
    snake = re.sub(r"\W", "_", snake)
    if not snake or snake[0].isdigit():
        snake = "f_" + snake
    if snake in RESERVED or snake in CORE_COLUMNS.values():
        snake = "field_" + snake
    return snake


_STRFTIME = {
    "Y": r"\d{4}",
    "y": r"\d\d",
    "m": r"\d\d",
    "d": r"\d\d",
    "H": r"\d\d",
    "I": r"\d\d",
    "M": r"\d\d",
    "S": r"\d\d",
    "f": r"\d{6}",
    "j": r"\d{3}",
    "b": r"[A-Za-z]{3}",
    "h": r"[A-Za-z]{3}",
    "B": r"[A-Za-z]+",
    "a": r"[A-Za-z]{3}",
    "A": r"[A-Za-z]+",
    "p": r"(?:AM|PM|am|pm)",
    "z": r"(?:[-+]\d{4})?",
    "Z": r"[A-Za-z]*",
    "e": r" ?\d{1,2}",
    "T": r"\d\d:\d\d:\d\d",
    "F": r"\d{4}-\d\d-\d\d",
    "D": r"\d\d/\d\d/\d\d",
    "%": "%",
    "k": r"[ \d]\d",
    "l": r"[ \d]\d",
    "x": r"\d\d/\d\d/\d\d",
    "X": r"\d\d:\d\d:\d\d",
    "R": r"\d\d:\d\d",
    "r": r"\d\d:\d\d:\d\d (?:AM|PM)",
    "c": r"[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d\d:\d\d:\d\d \d{4}",
}


def strftime_regex(datefmt: str) -> str:
    """A regex matching what `time.strftime(datefmt)` renders."""
    out, i = [], 0
    while i < len(datefmt):
        ch = datefmt[i]
        if ch == "%" and i + 1 < len(datefmt):
            out.append(_STRFTIME.get(datefmt[i + 1], r"\S+?"))
            i += 2
        else:
            out.append(regex_escape(ch))
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------
# compiled patterns


@dataclass
class LinePattern:
    """An anchored regex for one kind of line, and what each named group holds.

    `groups` maps a regex group name to the record attribute it captures; `datefmt` is the
    strftime format of the `asctime` group (None: logging's default ``%Y-%m-%d %H:%M:%S``
    followed by ``,mmm``).
    """

    format: str
    style: str
    regex: str
    groups: dict[str, str] = field(default_factory=dict)
    datefmt: str | None = None
    bases: dict[str, int] = field(default_factory=dict)  # integer groups written in hex or octal
    grouped: dict[str, str] = field(default_factory=dict)  # number groups with a thousands separator
    # A quicker regex for the common lines (see `segments`), the steps that turn its
    # groups into this pattern's, and the suffix regex those steps use.
    fast_regex: str | None = None
    fast_steps: tuple[FastStep, ...] = ()
    suffix_regex: str | None = None  # oslo's debug suffix, when the format has one
    suffix_groups: tuple[str, ...] = ()  # ... and the groups it captures
    segments: tuple[Segment, ...] = ()  # what both regexes are rendered from

    @property
    def attributes(self) -> set[str]:
        return set(self.groups.values())

    @property
    def has_time(self) -> bool:
        return bool(self.attributes & {"asctime", "created"})


def _value_pattern(f: Field, datefmt: str | None) -> str:
    if f.name == "asctime":
        if datefmt is None:
            # logging writes ",mmm"; a "." there (oslo's way) is read too, so that a format
            # written without its ".%(msecs)03d" still reads an oslo log
            return r"(?P<asctime>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[,.](?P<asctime_ms>\d{3})"
        return f"(?P<asctime>{strftime_regex(datefmt)})"
    conv = f.conversion
    if f.grouping and (conv in ("d", "n") or (conv is None and f.name in INTS)):
        return rf"-?\d{{1,3}}(?:{regex_escape(f.grouping)}\d{{3}})*"
    if f.grouping and conv in ("e", "E", "f", "F", "g", "G"):
        return rf"-?\d{{1,3}}(?:{regex_escape(f.grouping)}\d{{3}})*(?:\.\d+)?"
    if conv in ("d", "i", "u"):
        return INT
    if conv in ("e", "E", "f", "F", "g", "G", "n"):
        return FLOAT
    if conv in ("x", "X"):
        return HEX
    if conv == "o":
        return r"[0-7]+"
    return NATURAL.get(f.name, LAZY)


def _padding(f: Field) -> tuple[str, str]:
    """What pads a field to its width: the pattern before its value and after it."""
    if f.width is None or f.align is None:
        return "", ""
    pad = "[" + regex_escape(f.fill) + "]*"
    align = f.align
    if align == "natural":
        align = ">" if f.name in NUMERIC or f.conversion in tuple("deEfFgGnxXo") else "<"
    if align == "<":
        return "", pad
    if align == ">":
        return pad, ""
    return pad, pad


# The attributes a LogRecord has of itself (and oslo's own per-record fields); any other
# field is a request-context value, which oslo writes only when a record has a context.
RECORD_ATTRIBUTES = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
    "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
    "threadName", "processName", "process", "taskName", "message", "asctime", "instance", "exc_level",
    "color",
}  # fmt: skip
_BRACKET_TEXT = re.compile(r"\[([^\[\]]*)\]")
# logging's asctime without --datefmt, when the format itself adds ".%(msecs)03d" after it
SECONDS_DATEFMT = "%Y-%m-%d %H:%M:%S"


def is_context_bracket(fields: list[str]) -> bool:
    """Whether a ``[...]`` holding these fields is oslo's request context, which oslo writes as
    ``[-]`` on records without one (its logging_default_format_string)."""
    return bool(fields) and not set(fields) & RECORD_ATTRIBUTES


def without_context(fmt: str) -> str:
    """oslo's no-context form of a context format (each context bracket written ``[-]``),
    which the context format's pattern already reads."""

    def plain(m: re.Match[str]) -> str:
        return "[-]" if is_context_bracket(re.findall(r"%\((\w+)\)", m[1])) else m[0]

    return _BRACKET_TEXT.sub(plain, fmt)


def _split_brackets(tokens: list[Token]) -> list[Token]:
    """Literals cut so that every ``[`` and ``]`` is a literal of its own."""
    out: list[Token] = []
    for tok in tokens:
        if isinstance(tok, Literal):
            out.extend(Literal(piece) for piece in re.split(r"([\[\]])", tok.text) if piece)
        else:
            out.append(tok)
    return out


def _context_brackets(tokens: list[Token]) -> list[tuple[int, int]]:
    """(open, close) token indices of the brackets that hold only request-context fields."""
    found, start = [], None
    for i, tok in enumerate(tokens):
        if tok == Literal("["):
            start = i
        elif tok == Literal("]") and start is not None:
            inside = tokens[start + 1 : i]
            names = [t.name for t in inside if isinstance(t, Field)]
            if is_context_bracket(names) or inside == [Literal("-")]:
                found.append((start, i))
            start = None
    return found


def _asctime_datefmt(tokens: list[Token], i: int, datefmt: str | None) -> str | None:
    """The strftime format of the asctime at `tokens[i]`: the given one; else, before
    ``.%(msecs)03d``, logging's default without its milliseconds (as oslo writes it)."""
    if datefmt is not None:
        return datefmt
    after = tokens[i + 1 : i + 3]
    if (
        len(after) == 2
        and isinstance(after[0], Literal)
        and after[0].text in (".", ",")
        and isinstance(after[1], Field)
        and after[1].name == "msecs"
    ):
        return SECONDS_DATEFMT
    return None


def compile_format(
    fmt: str,
    style: str = "%",
    datefmt: str | None = None,
    debug_suffix: str | None = None,
    exception_prefix: bool = False,
) -> LinePattern:
    """Compile a logging format string into a `LinePattern`.

    `debug_suffix` (oslo's ``logging_debug_format_suffix``) is matched as an optional tail;
    the parser keeps it only on DEBUG records, as oslo writes it only there.
    `exception_prefix` compiles an oslo exception prefix: the rest of the line is the text.
    """
    if exception_prefix:
        fmt = fmt + {"%": "%(message)s", "{": "{message}", "$": "${message}"}[style]
    tokens = _split_brackets(parse_format(fmt, style))
    closing = dict(_context_brackets(tokens))
    groups: dict[str, str] = {}
    bases: dict[str, int] = {}
    grouped: dict[str, str] = {}

    # the strftime format of every asctime: the given one, or one inferred from the first
    # asctime's following ".%(msecs)03d"
    first = next((i for i, t in enumerate(tokens) if isinstance(t, Field) and t.name == "asctime"), None)
    asctime_datefmt = datefmt if first is None else _asctime_datefmt(tokens, first, datefmt)
    inferred = datefmt is None and asctime_datefmt is not None

    def value(i: int, tok: Field) -> Value:
        """The field's segment; registers its group (a repeated field is matched, not captured)."""
        pattern = _value_pattern(tok, asctime_datefmt)
        if tok.name == "asctime" and inferred:
            # logging itself, without a datefmt, still writes ",mmm" (which msecs repeats)
            pattern += r"(?:,\d{3})?"
        natural = pattern == NATURAL.get(tok.name)
        if tok.name == "message" and i == len(tokens) - 1 and not debug_suffix:
            pattern = r".*"
        group = column_name(tok.name) if tok.name not in TIME_FIELDS else tok.name
        before, after = _padding(tok)
        self_grouped = tok.name == "asctime" or tok.name in SELF_GROUPED
        repeated = group in groups
        if not repeated:
            groups[group] = tok.name
            if tok.name == "asctime" and asctime_datefmt is None:
                groups["asctime_ms"] = "asctime_ms"
            if not self_grouped and tok.conversion in ("x", "X", "o"):
                bases[group] = 8 if tok.conversion == "o" else 16
            if not self_grouped and tok.grouping and (tok.name in NUMERIC or tok.conversion in tuple("dnfFeEgG")):
                grouped[group] = tok.grouping
        return Value(
            name=tok.name,
            pattern=pattern,
            group=None if repeated else group,
            natural=natural,
            self_grouped=self_grouped,
            quoted=tok.quoted and tok.name not in NUMERIC and not self_grouped,
            pad_before=before,
            pad_after=after,
        )

    def segment(i: int, tok: Token) -> Segment:
        return Text(tok.text) if isinstance(tok, Literal) else value(i, tok)

    segments: list[Segment] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if i in closing:  # a context bracket: "[" ... "]"
            end = closing[i]
            if tokens[i + 1 : end] == [Literal("-")] and "context" not in groups:
                groups["context"] = "context"
                segments.append(NoContext())
            else:
                segments.append(ContextBracket(tuple(segment(j, tokens[j]) for j in range(i + 1, end))))
            i = end + 1
            continue
        segments.append(segment(i, tok))
        i += 1
    suffix_groups: tuple[str, ...] = ()
    suffix_regex = None
    if debug_suffix:
        suffix = compile_format(debug_suffix.rstrip(), style)
        suffix_groups = tuple(suffix.groups)
        for g, attr in suffix.groups.items():
            groups.setdefault(g, attr)
        suffix_regex = render_full(suffix.segments)
        segments.append(DebugSuffix(suffix.segments))
    fast, steps = render_fast(segments)
    return LinePattern(
        format=fmt,
        style=style,
        regex=f"^{render_full(segments)}$",
        groups=groups,
        datefmt=asctime_datefmt,
        bases=bases,
        grouped=grouped,
        fast_regex=(f"^{fast}" if FastStep.TAIL in steps else f"^{fast}$") if steps else None,
        fast_steps=steps,
        suffix_regex=f"^(?P<message>.*)(?P<debug_suffix>{suffix_regex})$" if suffix_regex is not None else None,
        suffix_groups=suffix_groups,
        segments=tuple(segments),
    )
