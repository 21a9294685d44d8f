"""The join's matching on small random candidate graphs, against brute force: it is
maximum, uses only candidate pairs, and marks exactly the rows another complete matching
pairs differently."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from threadlog.rally_join import _complete, _undecided


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int]], list[tuple[int, int]]]:
    rows = draw(st.integers(1, 6))
    cols = draw(st.integers(1, 6))
    edges = sorted(draw(st.sets(st.tuples(st.integers(0, rows - 1), st.integers(0, cols - 1)), max_size=18)))
    # a first matching: any one-to-one subset of the edges, as the pairing in order of start gives
    first, used_r, used_c = [], set(), set()
    for r, c in draw(st.permutations(edges)):
        if r not in used_r and c not in used_c and draw(st.booleans()):
            first.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return rows, cols, edges, first


def all_matchings(rows: int, edges: set[tuple[int, int]]) -> list[dict[int, int]]:
    """Every matching, as row -> column (brute force over each row's choice)."""
    choices = [[None, *sorted(c for r2, c in edges if r2 == r)] for r in range(rows)]
    found = []
    for pick in itertools.product(*choices):
        taken = [c for c in pick if c is not None]
        if len(taken) == len(set(taken)):
            found.append({r: c for r, c in enumerate(pick) if c is not None})
    return found


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_matching_is_maximum_and_undecided_is_exact(graph: tuple[int, int, list, list]) -> None:
    rows, cols, edges, first = graph
    rr = np.array([e[0] for e in edges], dtype=np.int64)
    cc = np.array([e[1] for e in edges], dtype=np.int64)
    start = pl.DataFrame(
        {"rrow": [r for r, _ in first], "col": [c for _, c in first]}, schema={"rrow": pl.UInt32, "col": pl.Int64}
    )
    partner = _complete(rr, cc, start, rows, cols)
    ours = {r: int(c) for r, c in enumerate(partner) if c >= 0}
    edge_set = set(edges)
    assert all((r, c) in edge_set for r, c in ours.items())
    assert len(set(ours.values())) == len(ours)
    matchings = all_matchings(rows, edge_set)
    best = max(len(m) for m in matchings)
    assert len(ours) == best
    if best == rows and edges:  # complete: undecided = partner differs in another complete matching
        complete = [m for m in matchings if len(m) == rows]
        expected = [any(m[r] != ours[r] for m in complete) for r in range(rows)]
        assert _undecided(rr, cc, partner, cols).tolist() == expected
