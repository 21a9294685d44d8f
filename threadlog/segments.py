"""A compiled format as typed segments, and the two regexes rendered from them.

`formats.compile_format` turns a format's tokens into segments: literal text, a field with
its value pattern, oslo's context bracket, its no-context ``[-]`` and its debug suffix. The
full regex and the quick one are both rendered from that one list, never by editing a
finished regex as text.

The quick regex: the Rust engine extracts groups several times faster from a regex with no
ambiguity (no optional group or alternative that can start with the same byte). Where the
full pattern has such a construct that the compiler itself wrote, the quick regex captures
a plainer superset and a vectorised `FastStep` splits it afterwards; lines the quick regex
misses, or whose split does not validate, are matched with the full regex, unless no step
narrows what the quick regex reads (then it misses only what the full one misses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ContextBracket",
    "DebugSuffix",
    "FastStep",
    "NoContext",
    "Segment",
    "Text",
    "Value",
    "regex_escape",
    "render_fast",
    "render_full",
]

LEVEL = r"(?:[A-Z][A-Z0-9_]*|Level \d+)"
PLAIN_LEVEL = r"[A-Z][A-Z0-9_]*"  # "Level 5" lines go to the full regex
LAZY = r".*?"
REQUEST_ID = r"[^\s\]:]+"  # no blank, "]" or ":" (so "[instance: UUID]" is never a request context)
INSTANCE = r"\[instance: (?P<instance>[^\]]*)\] "  # oslo's %(instance)s, when it is set
ANY_CONTEXT = r"[^\]]*"


def regex_escape(text: str) -> str:
    """Escape for both Python `re` and Rust `regex`: ASCII punctuation only (not `<`, `>`)."""
    return "".join("\\" + c if c in r"\.+*?()|[]{}^$#&-~" else c for c in text)


class FastStep(Enum):
    """What the matcher does after the quick regex to give the full regex's groups."""

    LEVEL = "level"  # the level read as a plain word; "Level 5" lines go to the full regex
    INSTANCE = "instance"  # oslo's "[instance: UUID] " cut off the start of the message
    CONTEXT = "context"  # oslo's "[request_id user_identity]" captured whole, then split
    SUFFIX = "suffix"  # oslo's debug suffix cut off the end of the message on DEBUG records
    # the message, the rest of the line, cut off after the matched head instead of captured:
    # every captured group costs, and a long one most
    TAIL = "tail"

    @property
    def narrows(self) -> bool:
        """Whether the quick regex misses lines the full one reads, because of this step (they
        are then matched again with the full regex); the other steps only split what it read."""
        return self in (FastStep.LEVEL, FastStep.CONTEXT)


@dataclass(frozen=True)
class Text:
    """Text that appears verbatim."""

    text: str


@dataclass(frozen=True)
class Value:
    """A field: the pattern of its value, and the group that captures it.

    `group` is None for a field repeated in the format: matched, not captured again.
    `self_grouped` patterns hold their own groups (asctime, oslo's instance). `natural`:
    the field's pattern is the one its attribute has of itself, not set by a conversion.
    """

    name: str
    pattern: str
    group: str | None
    natural: bool = False
    self_grouped: bool = False
    quoted: bool = False  # rendered with repr(): in single quotes
    pad_before: str = ""  # padding to its width, before and after the value
    pad_after: str = ""

    def render(self, pattern: str | None = None) -> str:
        body = self.pattern if pattern is None else pattern
        if self.self_grouped:
            if self.group is None:
                body = re.sub(r"\(\?P<\w+>", "(?:", body)
        elif self.group is None:
            body = f"(?:{body})"
        else:
            body = f"(?P<{self.group}>{body})"
            if self.quoted:
                body = f"'{body}'"
        return self.pad_before + body + self.pad_after

    @property
    def unpadded(self) -> bool:
        return not (self.pad_before or self.pad_after or self.quoted)


@dataclass(frozen=True)
class ContextBracket:
    """oslo's request-context bracket: ``[`` its fields ``]``, or the no-context ``[-]``."""

    inner: tuple[Segment, ...]


@dataclass(frozen=True)
class NoContext:
    """oslo's no-context ``[-]`` (its default format), which also reads a context bracket,
    kept whole as ``context``."""


@dataclass(frozen=True)
class DebugSuffix:
    """oslo's debug suffix: an optional tail, kept only on DEBUG records."""

    segments: tuple[Segment, ...]


Segment = Text | Value | ContextBracket | NoContext | DebugSuffix


def render_full(segments: tuple[Segment, ...] | list[Segment]) -> str:
    """The regex (unanchored) that reads every line the segments describe."""
    out = []
    for seg in segments:
        if isinstance(seg, Text):
            out.append(regex_escape(seg.text))
        elif isinstance(seg, Value):
            out.append(seg.render())
        elif isinstance(seg, ContextBracket):
            # the fields first: a context field that holds "-" keeps it; "[-]" alone when they cannot
            out.append(r"\[(?:" + render_full(seg.inner) + r"|-)\]")
        elif isinstance(seg, NoContext):
            out.append(r"\[(?:-|(?P<context>" + ANY_CONTEXT + r"))\]")
        else:
            out.append(f"(?P<debug_suffix>{render_full(seg.segments)})?")
    return "".join(out)


def render_fast(segments: tuple[Segment, ...] | list[Segment]) -> tuple[str, tuple[FastStep, ...]]:
    """The quick regex (unanchored) and the steps that turn its groups into the full one's;
    no steps: there is no quicker regex than the full one. With `FastStep.TAIL` it reads
    the line's head only, so it is to be anchored at the start only."""
    steps: set[FastStep] = set()
    regex = _render_fast(list(segments), steps, top=True)
    return regex, tuple(step for step in FastStep if step in steps)


def _render_fast(segments: list[Segment], steps: set[FastStep], top: bool = False) -> str:
    """`top`: the line's own segments, where a message that runs to the end is the tail."""
    out = []
    for k, seg in enumerate(segments):
        after = segments[k + 1] if k + 1 < len(segments) else None
        if isinstance(seg, Value):
            if _is_instance_before_message(seg, after):
                steps.add(FastStep.INSTANCE)
                continue
            if isinstance(after, DebugSuffix) and _is_lazy_message(seg):
                steps.add(FastStep.SUFFIX)  # the suffix is cut off the message afterwards
                if top:
                    steps.add(FastStep.TAIL)
                else:
                    out.append(seg.render(".*"))
                break
            if top and after is None and _is_rest_message(seg):
                steps.add(FastStep.TAIL)
                break
            if seg.name == "levelname" and seg.natural:
                steps.add(FastStep.LEVEL)
                out.append(seg.render(PLAIN_LEVEL))
                continue
            out.append(seg.render())
        elif isinstance(seg, ContextBracket) and _is_oslo_context(seg):
            steps.add(FastStep.CONTEXT)
            out.append(r"\[(?P<oslo_context>" + ANY_CONTEXT + r")\]")
        elif isinstance(seg, ContextBracket):
            out.append(r"\[(?:" + _render_fast(list(seg.inner), steps) + r"|-)\]")
        elif isinstance(seg, DebugSuffix):
            out.append(f"(?P<debug_suffix>{_render_fast(list(seg.segments), steps)})?")
        else:
            out.append(render_full([seg]))
    return "".join(out)


def _is_instance_before_message(seg: Value, after: Segment | None) -> bool:
    """oslo's optional ``[instance: UUID] `` right before the message's capture."""
    return (
        seg.name == "instance"
        and seg.natural
        and seg.self_grouped
        and seg.group is not None
        and seg.unpadded
        and isinstance(after, Value)
        and after.group == "message"
        and not after.quoted
        and not after.pad_before
    )


def _is_rest_message(seg: Value) -> bool:
    """The message as the rest of the line (a line holds no newline, so ``.*`` reads it all)."""
    return seg.group == "message" and seg.pattern == ".*" and seg.unpadded


def _is_lazy_message(seg: Value) -> bool:
    return seg.group == "message" and seg.pattern == LAZY and seg.unpadded


def _is_oslo_context(bracket: ContextBracket) -> bool:
    """``[%(request_id)s %(user_identity)s]`` as oslo writes it by default."""
    inner = bracket.inner
    return (
        len(inner) == 3
        and isinstance(inner[0], Value)
        and inner[0].group == "request_id"
        and inner[0].pattern == REQUEST_ID
        and inner[0].unpadded
        and inner[1] == Text(" ")
        and isinstance(inner[2], Value)
        and inner[2].group == "user_identity"
        and inner[2].pattern == LAZY
        and inner[2].unpadded
    )
