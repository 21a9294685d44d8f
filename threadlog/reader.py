"""Log sources read as numbered lines, in bounded chunks.

A source is a file path, a `.gz` file or ``-`` for standard input. Its bytes are cut into
chunks at line ends and each chunk becomes a polars frame of ``line`` (1-based) and ``text``,
split by polars' multi-threaded CSV reader with a separator byte the chunk does not contain:
much faster than splitting in Python, and CRLF endings come out stripped.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from threadlog.errors import ThreadlogError

__all__ = ["LineChunk", "Source", "contains", "open_source", "own_strings", "read_chunks", "split_lines"]

CHUNK_BYTES = 8 << 20
# Rotated logs come compressed; the first bytes tell how, whatever the file is called.
MAGIC = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}
OPENERS = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
REPLACEMENT = "\ufffd"
# Separator candidates for the CSV split: control bytes that real logs almost never hold.
_SEPARATORS = (b"\x1f", b"\x1e", b"\x1d", b"\x1c", b"\x01", b"\x02", b"\x03", b"\x04")
# polars' CSV reader decompresses bytes that begin like gzip, zlib or zstd data: a chunk of
# text that happens to start so (a fuzzed line did) must not reach it
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x28\xb5\x2f\xfd")


@dataclass(frozen=True)
class Source:
    """One input: what the user named, and its size and mtime when it was read."""

    name: str
    path: Path | None  # None for stdin
    size: int | None
    mtime: float | None
    compression: str | None  # "gzip", "bz2", "xz" (told by the first bytes) or None

    @property
    def compressed(self) -> bool:
        """Compressed: it cannot be sought, and its size is not its text's."""
        return self.compression is not None


@dataclass
class LineChunk:
    """Consecutive lines of one source: ``line`` (Int64, 1-based) and ``text`` (String)."""

    frame: pl.DataFrame
    replaced_lines: int  # lines where invalid UTF-8 was replaced by U+FFFD
    nbytes: int


def open_source(name: str) -> Source:
    """Check that `name` can be read as a log and describe it; raise `ThreadlogError` if not."""
    if name == "-":
        return Source("-", None, None, None, None)
    path = Path(name)
    if not path.exists():
        raise ThreadlogError(f"{name}: no such file; check the path")
    if path.is_dir():
        raise ThreadlogError(f"{name} is a directory; name the log files inside it")
    try:
        with path.open("rb") as fh:
            head = fh.read(6)
    except PermissionError:
        raise ThreadlogError(f"{name}: permission denied; make it readable (chmod +r)") from None
    except OSError as exc:
        raise ThreadlogError(f"{name}: cannot read it ({exc.strerror})") from None
    st = path.stat()
    kind = next((k for k, magic in MAGIC.items() if head.startswith(magic)), None)
    return Source(name, path, st.st_size, st.st_mtime, kind)


def own_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with strings of its own, for rows kept after their chunk is gone.

    A polars string is a view into a buffer that the chunk's computation made: a few rows
    kept from each chunk would keep every chunk's text alive, and memory would grow with the
    log (80 MB per million lines, measured). Rebuilding the kept rows' strings frees it.
    """
    return frame.with_columns(pl.col(pl.String).str.pad_end(0))


def contains(source: Source, pattern: re.Pattern[bytes], block: int = CHUNK_BYTES) -> bool:
    """Whether `pattern` occurs in the source's bytes, read block by block up to the first
    match (in a Rally log, within the first block). A read error ends the search: parsing
    reports it properly. Matches are assumed shorter than 4 KiB (blocks overlap by that)."""
    if source.path is None:
        return False
    tail = b""
    try:
        with _open_binary(source) as fh:
            while data := fh.read(block):
                if pattern.search(tail + data):
                    return True
                tail = data[-4096:]
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
        return False
    return False


def _open_binary(source: Source) -> BinaryIO:
    if source.path is None:
        return sys.stdin.buffer
    if source.compression is not None:
        return OPENERS[source.compression](source.path, "rb")  # type: ignore[no-any-return]
    return source.path.open("rb")


def read_chunks(source: Source, chunk_bytes: int = CHUNK_BYTES) -> Iterator[LineChunk]:
    """Yield the source's lines as `LineChunk`s of about `chunk_bytes` each, cut at line ends.

    Raises `ThreadlogError` for a truncated or corrupt gzip file and for binary data.
    """
    first_line = 1
    pending = b""
    checked = False
    cr_only = False  # old Mac line ends: a file with CRs and no LF at all in its first block
    try:
        fh = _open_binary(source)
    except OSError as exc:
        raise ThreadlogError(f"{source.name}: cannot read it ({exc})") from None
    try:
        while True:
            try:
                block = fh.read(chunk_bytes)
            except (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as exc:
                raise ThreadlogError(
                    f"{source.name}: the {source.compression} data is truncated or corrupt ({exc}); "
                    "re-copy the file, or decompress what is left of it"
                ) from None
            except OSError as exc:
                raise ThreadlogError(f"{source.name}: read failed ({exc})") from None
            if not checked and block:
                cr_only = b"\n" not in block and block.count(b"\r") > 1
            if cr_only:
                block = block.replace(b"\r", b"\n")
            data = pending + block
            if not checked and data:
                _reject_binary(source.name, data)
                checked = True
            if not block:
                if data:
                    yield _chunk(data, first_line)
                return
            cut = data.rfind(b"\n")
            if cut < 0:  # one very long line: keep reading until it ends
                pending = data
                continue
            body, pending = data[: cut + 1], data[cut + 1 :]
            chunk = _chunk(body, first_line)
            first_line += chunk.frame.height
            yield chunk
    finally:
        if source.path is not None:
            fh.close()


def _reject_binary(name: str, data: bytes) -> None:
    # logrotate's copytruncate can leave a run of NULs where the old contents were: skip it
    sample = data.lstrip(b"\x00")[:65536]
    control = sum(sample.count(bytes([b])) for b in (*range(0, 9), *range(14, 32), 127))
    if control > len(sample) // 10:
        raise ThreadlogError(
            f"{name} looks binary ({control} control bytes in its first {len(sample)}); name a text log file"
        )


def _chunk(data: bytes, first_line: int) -> LineChunk:
    text, replaced = split_lines(data)
    frame = pl.DataFrame(
        {
            "line": pl.int_range(first_line, first_line + len(text), eager=True, dtype=pl.Int64),
            "text": text,
        }
    )
    return LineChunk(frame, replaced, len(data))


def split_lines(data: bytes) -> tuple[pl.Series, int]:
    """Split bytes into lines (a String Series) and count lines with replaced bytes.

    A final line without a newline is kept; ``\\r\\n`` endings lose the ``\\r``.
    """
    if not data:
        return pl.Series("text", [], dtype=pl.String), 0
    sep = next((s for s in _SEPARATORS if s not in data), None)
    # hostile input holding every candidate, a chunk the CSV reader sees as empty (a lone
    # byte-order mark, which it drops) or one it would take for compressed data: split in Python
    if sep is None or data.lstrip(b"\xef\xbb\xbf\r\n") == b"" or data.startswith(_COMPRESSED_MAGIC):
        return _split_in_python(data)
    try:
        text = _read(data, sep, "utf8")
        return text, 0
    except pl.exceptions.ComputeError:
        text = _read(data, sep, "utf8-lossy")
        return text, int(text.str.contains(REPLACEMENT, literal=True).sum())


def _read(data: bytes, sep: bytes, encoding: str) -> pl.Series:
    frame = pl.read_csv(
        io.BytesIO(data),
        has_header=False,
        separator=sep.decode(),
        quote_char=None,
        new_columns=["text"],
        infer_schema=False,
        encoding=encoding,  # type: ignore[arg-type]
    )
    return frame.to_series().fill_null("")


def _split_in_python(data: bytes) -> tuple[pl.Series, int]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    replaced = 0
    out = []
    for line in lines:
        raw = line[:-1] if line.endswith(b"\r") else line
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(raw.decode("utf-8", "replace"))
            replaced += 1
    return pl.Series("text", out, dtype=pl.String), replaced
