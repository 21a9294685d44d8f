"""Parquet parts joined by copying their pages read back as the parts' rows, in order, with
offsets that point at the pages; parts that cannot be joined so are refused untouched."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadlog.parquet_concat import Unsupported, _read_footer, _Reader, concat_parquet
from threadlog.store import StoreWriter

SCHEMA = {"line": pl.Int64, "ts": pl.Datetime("us"), "level": pl.String, "message": pl.String, "parsed": pl.Boolean}
START = datetime(2026, 11, 25, 23, 40)


def _frame(first_line: int, rows: int, seed: int) -> pl.DataFrame:
    """`rows` records from `first_line` on, with nulls, repeats and long text."""
    return pl.DataFrame(
        {
            "line": range(first_line, first_line + rows),
            "ts": [None if (i + seed) % 7 == 0 else START + timedelta(milliseconds=i * 13) for i in range(rows)],
            "level": [("INFO", "DEBUG", None, "ERROR")[(i * seed) % 4] for i in range(rows)],
            "message": [f"message {i * seed}" + "x" * ((i + seed) % 50) for i in range(rows)],
            "parsed": [(i + seed) % 5 != 0 for i in range(rows)],
        },
        schema=SCHEMA,
    )


def _parts(folder: Path, sizes: list[int], group_rows: list[int]) -> tuple[list[Path], pl.DataFrame]:
    """Parts of `sizes` rows (row groups of `group_rows`), and all their rows in order."""
    paths, frames, line = [], [], 1
    for i, (size, group) in enumerate(zip(sizes, group_rows, strict=True)):
        frame = _frame(line, size, seed=i + 3)
        path = folder / f"part-{i}.parquet"
        frame.write_parquet(path, row_group_size=group)
        paths.append(path)
        frames.append(frame)
        line += size
    return paths, pl.concat(frames)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=6),
    group_rows=st.lists(st.integers(100, 5000), min_size=6, max_size=6),
)
def test_joined_parts_read_back_as_their_rows(tmp_path: Path, sizes: list[int], group_rows: list[int]) -> None:
    """The joined file holds every part's rows in order; a filter (which skips row groups by
    their statistics) finds what it finds in the parts' rows."""
    folder = tmp_path / f"case-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    paths, expected = _parts(folder, sizes, group_rows[: len(sizes)])
    out = folder / "joined.parquet"
    concat_parquet(paths, out)
    assert pl.read_parquet(out).equals(expected)
    middle = sum(sizes) // 2
    wanted = (pl.col("line") > middle) & (pl.col("level") == "ERROR")
    assert pl.scan_parquet(out).filter(wanted).collect().equals(expected.filter(wanted))
    assert pl.scan_parquet(out).select(pl.len()).collect().item() == sum(sizes)


def test_offsets_point_at_the_moved_pages(tmp_path: Path) -> None:
    """Every column chunk's first listed page (offset index) is its first data page, and the
    row groups are numbered in order: the offsets moved with the pages."""
    paths, _ = _parts(tmp_path, [1200, 800, 2000], [500, 300, 2000])
    out = tmp_path / "joined.parquet"
    concat_parquet(paths, out)
    meta, _ = _read_footer(out)
    groups = meta[4][1][1]
    assert [g[7][1] for g in groups] == list(range(len(groups)))
    assert len(groups) == 3 + 3 + 1
    checked = 0
    with out.open("rb") as source:
        for group in groups:
            for chunk in group[1][1][1]:
                data_page = chunk[3][1][9][1]
                if 4 in chunk:
                    source.seek(chunk[4][1])
                    index = _Reader(source.read(chunk[5][1])).struct()
                    assert index[1][1][1][0][1][1] == data_page
                    checked += 1
                assert 4 <= data_page < out.stat().st_size
    assert checked > 0


def test_parts_of_another_schema_are_refused_untouched(tmp_path: Path) -> None:
    """Parts whose columns differ are not joined, and nothing is written."""
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    _frame(1, 100, 1).write_parquet(one)
    _frame(101, 100, 2).rename({"level": "levelname"}).write_parquet(two)
    out = tmp_path / "joined.parquet"
    with pytest.raises(Unsupported):
        concat_parquet([one, two], out)
    assert not out.exists()


def test_not_parquet_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(Unsupported):
        concat_parquet([bad], tmp_path / "joined.parquet")


@pytest.mark.parametrize("sizes", [[40_000, 30_000, 5], [300, 200, 100, 50]])
def test_store_table_from_parts_big_or_tiny(tmp_path: Path, sizes: list[int]) -> None:
    """A table made of parts holds their rows in order, whether the parts are joined as they
    are (big ones) or rewritten (tiny ones, which would make tiny row groups)."""
    with StoreWriter(tmp_path / "store") as writer:
        paths, frames, line = [], [], 1
        for i, size in enumerate(sizes):
            frame = _frame(line, size, seed=i + 1)
            path = writer.part_path()
            writer.write_part(frame, path)
            paths.append(path)
            frames.append(frame)
            line += size
        writer.write_concatenated("records", paths)
        meta, _ = _read_footer(writer.path("records"))
        assert pl.read_parquet(writer.path("records")).equals(pl.concat(frames))
        joined = sum(sizes) >= 16_384 * len(sizes)
        assert (len(meta[4][1][1]) == len(sizes)) is joined
