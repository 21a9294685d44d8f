"""Rally's markers, read by slicing their fixed layout, say what their regex's groups say.

`markers.evidence` checks a message against `RALLY_MARKER` without captures and then reads
the task, number, status, error type and error by position. Random marker messages (an
END's tail drawn from text full of colons, blanks and line breaks) must give exactly the
groups Python's `re` captures with the same regex.
"""

from __future__ import annotations

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from threadlog.markers import END, RALLY_MARKER, START, Markers, evidence

UUID = "6f1e1c2a-0b9d-4f6e-9a53-3c2d1e0f9a8b"
PIECES = st.sampled_from([":", " ", "\n", "Error", "OK", "KeyError", "'x'", "a b", "::", " : "])
TAILS = st.lists(PIECES, max_size=8).map("".join)


# polars' (Rust's) ``$`` is the end of the text; Python's also matches before a final "\n"
ORACLE = re.compile(RALLY_MARKER.replace("$", r"\Z"))


def _expected(message: str) -> dict[str, object]:
    found = ORACLE.match(message)
    if found is None:
        return {"mark": 0, "m_iteration": None, "m_status": None, "m_error_type": None, "m_error": None}
    error = found["error"]
    return {
        "mark": START if found["start"] else END,
        "m_iteration": int(found["iteration"]),
        "m_status": found["status"],
        "m_error_type": found["error_type"],
        "m_error": error.lstrip(" ") if error is not None else None,
    }


@settings(max_examples=300, deadline=None)
@given(
    number=st.integers(0, 10**6),
    kind=st.sampled_from(["START", "END: OK", "END: Error", "END: Errors", "START ", "END: ok"]),
    tail=TAILS,
)
def test_sliced_markers_equal_the_regex_groups(number, kind, tail):
    messages = [f"Task {UUID} | ITER: {number} {kind}{tail}", f"Task {UUID} | ITER: {number} {kind}"]
    got = evidence(pl.DataFrame({"message": messages}), Markers())
    for message, row in zip(messages, got.iter_rows(named=True), strict=True):
        expected = _expected(message)
        assert {k: row[k] for k in expected} == expected, message
        assert row["m_task"] == (UUID if expected["mark"] else None)


def test_a_failed_end_gives_type_and_first_line_of_the_error():
    message = f"Task {UUID} | ITER: 7 END: Error KeyError: 'Dummy test exception'\nTraceback (most recent call last):"
    row = evidence(pl.DataFrame({"message": [message]}), Markers()).row(0, named=True)
    assert (row["mark"], row["m_iteration"], row["m_status"]) == (END, 7, "Error")
    assert (row["m_error_type"], row["m_error"]) == ("KeyError", "'Dummy test exception'")
