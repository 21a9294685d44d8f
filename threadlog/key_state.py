"""What each ``(pid, ident)`` key carries from one feed of the reconstructor into the next."""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from threadlog.keyed import KEY, upsert

__all__ = ["KeyState"]


class KeyState:
    """What each ``(pid, ident)`` key carries from one feed into the next: its last record
    (``row, inst, mark, ts, thread_name``, the epochs it was in) and the running values
    ``k_*`` the rules read at that record. In the next feed it enters as a row ahead of the
    key's records, flagged ``carried``, so shifts and running sums continue through it."""

    STATE: ClassVar[dict[str, pl.DataType]] = {
        "k_open": pl.Boolean,  # an iteration is open on the key
        "k_trigger": pl.Boolean,  # the key triggered a hook
        "k_markers": pl.Boolean,  # the key (this process) has had markers
        "k_generation": pl.Int64,
        "k_tid": pl.Int64,  # its current thread
        "k_block_start": pl.Boolean,  # the key's current block began with a START
        "k_block_row": pl.Int64,  # ... at this row
        "k_block_ends": pl.Int64,  # ENDs in the block so far
    }
    LAST: ClassVar[list[str]] = ["row", "inst", "mark", "ts", "thread_name", "wl_epoch", "hook_epoch"]
    # a key of a retired process keeps only the generation it reached
    RETIRED: ClassVar[dict[str, pl.DataType]] = {"pid": pl.Int64, "ident_id": pl.Int64, "k_generation": pl.Int64}

    def __init__(self) -> None:
        self._table: pl.DataFrame | None = None  # per key: KEY, LAST, STATE
        self._retired = pl.DataFrame(schema=self.RETIRED)

    @property
    def started(self) -> bool:
        return self._table is not None

    def carried_rows(self, ev: pl.DataFrame) -> pl.DataFrame:
        """The rows that enter the feed `ev` ahead of its records: one per key of `ev` seen
        before."""
        if self._table is None:
            types = {**ev.schema, "inst": pl.Int32, "wl_epoch": pl.Int64, "hook_epoch": pl.Int64}
            self._table = pl.DataFrame(schema={**{c: types[c] for c in (*KEY, *self.LAST)}, **self.STATE})
        present = ev.select(KEY).unique()
        carried = self._table.join(present, on=KEY, how="semi", nulls_equal=True)
        back = self._retired.join(present, on=KEY, how="semi", nulls_equal=True)
        if back.height:  # keys of retired processes: a new process, its generations count on
            self._retired = self._retired.join(present, on=KEY, how="anti", nulls_equal=True)
            carried = pl.concat([carried, self._back(back, self._table.schema)], how="vertical_relaxed")
        return carried.with_columns(carried=pl.lit(True), main=pl.lit(False), hook_trigger=pl.lit(False))

    @staticmethod
    def _back(keys: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
        """Carried rows for keys of retired processes: only the generation counts on (the
        next record is a new process's, so every other value starts afresh)."""
        defaults = {
            "row": -1,
            "inst": 0,  # no process instance: the next record is first on its key
            "mark": 0,
            "wl_epoch": 0,
            "hook_epoch": 0,
            "k_open": False,
            "k_trigger": False,
            "k_markers": False,
            "k_tid": -1,
            "k_block_start": False,
            "k_block_ends": 0,
        }
        filled = keys.with_columns(pl.lit(v, dtype=schema[c]).alias(c) for c, v in defaults.items())
        missing = [pl.lit(None, dtype=schema[c]).alias(c) for c in schema if c not in filled.columns]
        return filled.with_columns(missing).select(schema.names())

    def keep_last(self, frame: pl.DataFrame) -> None:
        """Keep each key's last row of `frame` (the chunk in key order, with the rules' values)."""
        assert self._table is not None
        at_end = pl.int_range(pl.len()) == pl.len() - 1
        last = at_end | pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(-1)) for c in KEY)
        self._table = upsert(self._table, frame.select(*KEY, *self.LAST, *self.STATE).filter(last), KEY)

    def current_threads(self) -> pl.Series:
        """Each key's current thread (``tid``)."""
        assert self._table is not None
        return self._table["k_tid"]

    def open_iterations(self) -> pl.Series:
        """The iterations (``start_row``) still open on their key."""
        assert self._table is not None
        return self._table.filter(pl.col("k_block_start") & (pl.col("k_block_ends") == 0))["k_block_row"]

    def retire(self, over: pl.Expr) -> None:
        """Shrink the keys `over` holds for to the generation they reached."""
        assert self._table is not None
        self._retired = pl.concat([self._retired, self._table.filter(over).select(*KEY, "k_generation")])
        self._table = self._table.filter(~over)
