"""The embedded store: a folder of Parquet tables and a small meta.json.

Layout (``./.threadlog/`` unless ``--store`` or ``THREADLOG_STORE`` says otherwise)::

    records.parquet     one row per log record
    threads.parquet     one row per logical thread
    iterations.parquet  one row per Rally iteration
    meta.json           sources (path, size, mtime), format, counts, versions

A parse writes a new store beside the old one and swaps it in with two renames; the old
store stays whole until the new one is complete, and a swap interrupted between its two
renames is undone the next time the store is opened. The new store's folder,
``.NAME.new-PID-XXXX``, holds a lock while its parse runs; the next parse removes such
folders whose parse is dead (killed, or a power cut) and leaves those of a running one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

from threadlog import __version__
from threadlog.errors import ThreadlogError
from threadlog.parquet_concat import Unsupported, concat_parquet
from threadlog.summary import ParseSummary

__all__ = [
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "Store",
    "StoreWriter",
    "previous_parse",
    "remove_dead_leftovers",
    "resolve_store",
]

DEFAULT_STORE = ".threadlog"
SCHEMA_VERSION = 1
META = "meta.json"
TABLES = ("records", "threads", "iterations")


def resolve_store(store: str | os.PathLike[str] | None) -> Path:
    """The store folder: the option, else ``THREADLOG_STORE``, else ``./.threadlog``."""
    return Path(store or os.environ.get("THREADLOG_STORE") or DEFAULT_STORE)


def _backup_path(root: Path) -> Path:
    return root.parent / f".{root.name}.old"


def _recover(root: Path) -> None:
    """Undo a swap that stopped between its two renames."""
    backup = _backup_path(root)
    if backup.exists() and not root.exists():
        backup.rename(root)


SORT_BATCH_ROWS = 1 << 18
# parts of fewer rows than this on average (tiny chunks) are rewritten, not joined as they
# are: the table would otherwise be thousands of tiny row groups, slow to read
MIN_JOINED_PART_ROWS = 16_384
JOINED_PARTS = "records"  # the kind of part (`part_path`) whose pages become the table's own


class StoreWriter:
    """Writes a complete new store into a temporary folder, then swaps it in."""

    def __init__(self, root: Path):
        self.root = root
        _recover(root)
        foreign = root.exists() and not (root / META).exists()
        if foreign and (not root.is_dir() or any(root.iterdir())):
            raise ThreadlogError(f"{root} exists and is not a threadlog store; choose another --store")
        parent = root.parent if str(root.parent) else Path(".")
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.new-{os.getpid()}-", dir=parent))
            self._lock = _hold_lock(self.tmp / OWNER_LOCK)
        except OSError as exc:
            raise ThreadlogError(
                f"cannot write the store beside {root} ({exc.strerror}); choose a writable --store"
            ) from None
        remove_dead_leftovers(root)
        self._parts = 0

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)
        os.close(self._lock)

    def part_path(self, kind: str = "records") -> Path:
        """A fresh path for an intermediate Parquet file of a table inside the new store."""
        self._parts += 1
        (self.tmp / "parts").mkdir(exist_ok=True)
        return self.tmp / "parts" / f"{kind}-{self._parts:06d}.parquet"

    def write_part(self, frame: pl.DataFrame, path: Path) -> None:
        """Write an intermediate chunk of a table. A record part is written as the table's
        own row groups are (`write_concatenated` joins them by copying their pages); the
        others are sorted into their table, so they are read back: lz4 reads quicker."""
        joined = path.name.startswith(f"{JOINED_PARTS}-")
        _guard_write(lambda: frame.write_parquet(path) if joined else frame.write_parquet(path, compression="lz4"))

    def rewrite_part(self, frame: pl.DataFrame, path: Path) -> None:
        """Write `frame` in place of the part at `path`: beside it, then renamed over it (the
        part may still be mapped by the read that made `frame`)."""
        beside = path.with_name(f"{path.stem}.new{path.suffix}")
        self.write_part(frame, beside)
        _guard_write(lambda: beside.replace(path))

    def path(self, table: str) -> Path:
        return self.tmp / f"{table}.parquet"

    def write_table(self, table: str, frame: pl.DataFrame) -> None:
        _guard_write(lambda: frame.write_parquet(self.path(table)))

    def sink_table(self, table: str, frame: pl.LazyFrame) -> None:
        _guard_write(lambda: frame.sink_parquet(self.path(table)))

    def write_concatenated(self, table: str, parts: list[Path]) -> None:
        """Write the rows of `parts`, in order, as `table`.

        Parts of a common size are joined by copying their pages (no decoding); tiny ones, or
        parts that do not share one schema, are read and written again by polars.
        """
        rows = pl.scan_parquet(parts).select(pl.len()).collect().item() if parts else 0
        if parts and rows >= MIN_JOINED_PART_ROWS * len(parts):
            try:
                _guard_write(lambda: concat_parquet(parts, self.path(table)))
                return
            except Unsupported:
                pass
        self.sink_table(table, pl.concat([pl.scan_parquet(p) for p in parts], how="vertical"))

    def write_sorted_table(self, table: str, parts: list[Path], key: str, schema: pl.Schema) -> None:
        """Write the rows of `parts`, sorted by the integer column `key` (then dropped)."""
        self.sink_table(table, self._sorted_rows(parts, key, schema))

    def _sorted_rows(self, parts: list[Path], key: str, schema: pl.Schema) -> pl.LazyFrame:
        """The rows of `parts`, sorted by the integer column `key` (then dropped), to sink.

        Each part holds rows in any order. Up to `SORT_BATCH_ROWS` rows are sorted at once;
        more are taken a `key` range of `SORT_BATCH_ROWS` rows at a time, so that memory
        holds one batch, not the table, when the frame is sunk.
        """
        batch_rows = SORT_BATCH_ROWS  # read when called: tests lower it
        if not parts:
            return pl.LazyFrame(schema=schema).drop(key)
        frames = pl.scan_parquet(parts)
        rows, lo, hi = frames.select(pl.len(), lo=pl.col(key).min(), hi=pl.col(key).max()).collect().row(0)
        if rows <= batch_rows:
            return frames.sort(key).drop(key)
        out_schema = pl.Schema({name: dtype for name, dtype in schema.items() if name != key})

        def batches(
            with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
        ) -> Iterator[pl.DataFrame]:
            # keys are distinct integers, so a key range of batch_rows holds at most that many rows
            for start in range(lo, hi + 1, batch_rows):
                batch = frames.filter(pl.col(key).is_between(start, start + batch_rows - 1)).collect()
                batch = batch.sort(key).drop(key)
                if predicate is not None:
                    batch = batch.filter(predicate)
                yield batch if with_columns is None else batch.select(with_columns)

        return register_io_source(batches, schema=out_schema)

    def commit(self, meta: dict[str, Any]) -> None:
        """Write meta.json and swap the new store in for the old."""
        shutil.rmtree(self.tmp / "parts", ignore_errors=True)
        parsed_at = time.strftime("%Y-%m-%d %H:%M:%S")
        meta = {"threadlog_version": __version__, "schema_version": SCHEMA_VERSION, "parsed_at": parsed_at, **meta}
        _guard_write(lambda: (self.tmp / META).write_text(json.dumps(meta, indent=2, default=str)))
        # the lock file stays out of the store; the folder's name (this pid) still says it is ours
        (self.tmp / OWNER_LOCK).unlink(missing_ok=True)
        backup = _backup_path(self.root)
        try:
            if backup.exists():
                shutil.rmtree(backup)
            if self.root.exists():
                self.root.rename(backup)
        except OSError as exc:  # e.g. an immutable folder, or a mount point (EBUSY)
            raise ThreadlogError(
                f"cannot replace the store at {self.root} ({exc.strerror or exc}); choose another --store"
            ) from None
        try:
            self.tmp.rename(self.root)
        except OSError as exc:
            if backup.exists() and not self.root.exists():
                backup.rename(self.root)  # put the old store back
            raise ThreadlogError(
                f"cannot replace the store at {self.root} ({exc.strerror or exc}); the previous store is unchanged"
            ) from None
        shutil.rmtree(backup, ignore_errors=True)


OWNER_LOCK = ".owner.lock"


def _hold_lock(path: Path) -> int:
    """Open `path` and hold an exclusive lock on it until the descriptor is closed (or the
    process dies, however it dies)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def remove_dead_leftovers(root: Path) -> list[Path]:
    """Remove the new-store folders beside `root` that a dead parse left; return them.

    A running parse holds the lock in its folder (and, before taking it and after dropping
    it, is alive under the pid in the folder's name): its folder is left alone.
    """
    parent = root.parent if str(root.parent) else Path(".")
    pattern = re.compile(rf"\.{re.escape(root.name)}\.new-(\d+)-\w+")
    removed = []
    try:
        candidates = [p for p in parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir()]
    except OSError:
        return removed
    for folder in candidates:
        pid = int(pattern.fullmatch(folder.name)[1])  # type: ignore[index]
        try:
            fd = os.open(folder / OWNER_LOCK, os.O_RDWR)
        except FileNotFoundError:
            if _alive(pid):
                continue
            fd = None
        except OSError:
            continue
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its parse is running
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM  # someone else's process
    return True


def previous_parse(root: Path) -> dict[str, Any] | None:
    """What the store at `root` holds now: its sources and when it was parsed (None: no store)."""
    meta_path = root / META
    try:
        meta = json.loads(meta_path.read_text())
        parsed_at = meta.get("parsed_at") or time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(meta_path.stat().st_mtime)
        )
        sources = [(s["name"], s.get("path")) for s in meta.get("sources", [])]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return {"sources": sources, "parsed_at": parsed_at}


def _guard_write(write: Any) -> None:
    try:
        write()
    except OSError as exc:
        raise ThreadlogError(
            f"cannot write the store ({exc.strerror or exc}); free some space or choose "
            "another --store; the previous store is unchanged"
        ) from None


@dataclass
class Store:
    """A store on disk, opened for reading."""

    root: Path
    meta: dict[str, Any]

    @classmethod
    def open(cls, store: str | os.PathLike[str] | None) -> Store:
        root = resolve_store(store)
        _recover(root)
        meta_path = root / META
        if not meta_path.is_file():
            raise ThreadlogError(f"no threadlog store at {root}; run `threadlog parse LOG` first")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise ThreadlogError(
                f"the store at {root} is unreadable ({exc}); run `threadlog parse LOG` again"
            ) from None
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise ThreadlogError(
                f"the store at {root} was written by another threadlog version; run `threadlog parse LOG` again"
            )
        return cls(root, meta)

    @property
    def summary(self) -> ParseSummary:
        """The summary of the parse that made the store (defaults where an older one left keys out)."""
        return replace(ParseSummary.from_json(self.meta.get("summary") or {}), store=str(self.root))

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Turn a store that breaks while being read (damaged, or deleted) into a user error."""
        try:
            yield
        except BrokenPipeError:
            raise  # stdout's reader went away: not the store's doing
        except (OSError, pl.exceptions.ComputeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            raise ThreadlogError(
                f"the store at {self.root} is unreadable ({reason}); run `threadlog parse LOG` again"
            ) from None

    def scan(self, table: str) -> pl.LazyFrame:
        """A lazy view of one table (nothing is read until collected)."""
        path = self.root / f"{table}.parquet"
        if not path.is_file():
            raise ThreadlogError(f"the store at {self.root} has no {table} table; run `threadlog parse LOG` again")
        return pl.scan_parquet(path)

    def has(self, table: str) -> bool:
        """Whether the store holds `table` (optional tables come from a joined Rally report)."""
        return (self.root / f"{table}.parquet").is_file()

    def stale_sources(self) -> list[str]:
        """Sources that changed (or vanished) since they were parsed."""
        changed = []
        for src in self.meta.get("sources", []):
            path = src.get("path")
            if not path:
                continue
            try:
                st = os.stat(path)
            except OSError:
                changed.append(f"{src['name']} (gone)")
                continue
            if st.st_size != src.get("size") or abs(st.st_mtime - (src.get("mtime") or 0)) > 1e-3:
                changed.append(src["name"])
        return changed
