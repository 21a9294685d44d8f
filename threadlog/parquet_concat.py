"""Parquet files of one schema joined into one file without decoding their pages.

A Parquet file is its pages, then a footer (Thrift compact protocol) that says where each
column chunk lies. Joining files copies their pages byte for byte and writes one footer
whose offsets are moved to where the pages now are: the parse's record parts become
records.parquet at the cost of a copy, not of a decode and re-encode of every record.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["concat_parquet"]

MAGIC = b"PAR1"
# Thrift compact protocol types (a boolean field's value is in its type: true or false)
_TRUE, _FALSE, _I8, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
_INTEGERS = (_I16, _I32, _I64)

# Field ids of the Parquet footer's structs that hold byte offsets into the file
_FILE_SCHEMA, _FILE_ROWS, _FILE_ROW_GROUPS, _FILE_KEY_VALUES = 2, 3, 4, 5
_FILE_ENCRYPTION = 8
_GROUP_COLUMNS, _GROUP_FILE_OFFSET, _GROUP_ORDINAL = 1, 5, 7
_CHUNK_FILE_OFFSET, _CHUNK_META, _CHUNK_OFFSET_INDEX, _CHUNK_OFFSET_INDEX_LENGTH = 2, 3, 4, 5
_CHUNK_COLUMN_INDEX, _CHUNK_CRYPTO = 6, 8
_META_OFFSETS = (9, 10, 11, 14)  # data page, index page, dictionary page, bloom filter
_PAGE_LOCATIONS, _PAGE_OFFSET = 1, 1  # OffsetIndex.page_locations, PageLocation.offset
_ORDINAL_MAX = 2**15 - 1

Struct = dict[int, tuple[int, Any]]  # field id -> (type, value)


class Unsupported(ValueError):
    """The files use something this does not join (another schema, encryption, a map)."""


def concat_parquet(parts: list[Path], out: Path) -> None:
    """Write the rows of `parts`, in order, to `out` by copying their pages.

    Raises `Unsupported` before writing anything when the parts differ in schema or use
    what this does not read; the caller then writes the table the slow way.
    """
    footers = [_read_footer(part) for part in parts]
    if not footers:
        raise Unsupported("no parts")
    first = footers[0][0]
    shape = _encode_fields(first, (_FILE_SCHEMA, _FILE_KEY_VALUES))
    for meta, _ in footers:
        if _encode_fields(meta, (_FILE_SCHEMA, _FILE_KEY_VALUES)) != shape or _FILE_ENCRYPTION in meta:
            raise Unsupported("the parts differ in schema, or are encrypted")
    groups: list[Struct] = []
    moved_indexes: list[tuple[Struct, bytes]] = []  # (column chunk, its offset index re-encoded)
    with out.open("wb") as sink:
        sink.write(MAGIC)
        for part, (meta, body) in zip(parts, footers, strict=True):
            shift = sink.tell() - len(MAGIC)
            with part.open("rb") as source:
                source.seek(len(MAGIC))
                _copy(source, sink, body)
                for group in _list(meta, _FILE_ROW_GROUPS):
                    _shift(group, _GROUP_FILE_OFFSET, shift)
                    for chunk in _list(group, _GROUP_COLUMNS):
                        moved_indexes.extend(_move_chunk(chunk, shift, source))
                    groups.append(group)
        for chunk, index in moved_indexes:
            chunk[_CHUNK_OFFSET_INDEX] = (_I64, sink.tell())
            chunk[_CHUNK_OFFSET_INDEX_LENGTH] = (_I32, len(index))
            sink.write(index)
        for ordinal, group in enumerate(groups):
            if len(groups) <= _ORDINAL_MAX:
                group[_GROUP_ORDINAL] = (_I16, ordinal)
            else:
                group.pop(_GROUP_ORDINAL, None)
        footer = dict(first)
        footer[_FILE_ROWS] = (_I64, sum(meta[_FILE_ROWS][1] for meta, _ in footers))
        footer[_FILE_ROW_GROUPS] = (_LIST, (_STRUCT, groups))
        encoded = _Writer().struct(footer).done()
        sink.write(encoded + struct.pack("<I", len(encoded)) + MAGIC)


def _read_footer(path: Path) -> tuple[Struct, int]:
    """A file's footer, and how many bytes of pages lie between its magic and its footer."""
    with path.open("rb") as source:
        size = source.seek(0, 2)
        source.seek(size - 8)
        length_bytes, magic = source.read(4), source.read(4)
        length = struct.unpack("<I", length_bytes)[0]
        if magic != MAGIC or length + 12 > size:
            raise Unsupported(f"{path.name} is not a plain Parquet file")
        source.seek(size - 8 - length)
        meta = _Reader(source.read(length)).struct()
    return meta, size - 8 - length - len(MAGIC)


def _move_chunk(chunk: Struct, shift: int, source: BinaryIO) -> list[tuple[Struct, bytes]]:
    """Move a column chunk's offsets by `shift`; its offset index (which lists absolute page
    offsets) comes back re-encoded with moved offsets, to be written after the pages."""
    if _CHUNK_CRYPTO in chunk:
        raise Unsupported("encrypted column")
    _shift(chunk, _CHUNK_FILE_OFFSET, shift)
    _shift(chunk, _CHUNK_COLUMN_INDEX, shift)  # a column index holds no offsets: moved with the pages
    if _CHUNK_META in chunk:
        meta = chunk[_CHUNK_META][1]
        for field in _META_OFFSETS:
            _shift(meta, field, shift)
    if _CHUNK_OFFSET_INDEX not in chunk:
        return []
    source.seek(chunk[_CHUNK_OFFSET_INDEX][1])
    index = _Reader(source.read(chunk[_CHUNK_OFFSET_INDEX_LENGTH][1])).struct()
    for location in _list(index, _PAGE_LOCATIONS):
        _shift(location, _PAGE_OFFSET, shift)
    return [(chunk, _Writer().struct(index).done())]


def _shift(fields: Struct, field: int, by: int) -> None:
    if field in fields:
        kind, value = fields[field]
        fields[field] = (kind, value + by)


def _list(fields: Struct, field: int) -> list[Any]:
    return fields[field][1][1] if field in fields else []


def _encode_fields(fields: Struct, which: tuple[int, ...]) -> bytes:
    return _Writer().struct({f: fields[f] for f in which if f in fields}).done()


def _copy(source: BinaryIO, sink: BinaryIO, length: int) -> None:
    """Copy `length` bytes, a block at a time (memory holds one block, not the file)."""
    block = 1 << 20
    while length > 0:
        data = source.read(min(block, length))
        if not data:
            raise Unsupported("a part ends early")
        sink.write(data)
        length -= len(data)


class _Reader:
    """Thrift compact protocol values out of bytes."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    def integer(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)  # zigzag

    def value(self, kind: int) -> Any:
        if kind in (_TRUE, _FALSE):  # only within lists: one byte, 1 for true
            return self.byte() == _TRUE
        if kind == _I8:
            return self.byte()
        if kind in _INTEGERS:
            return self.integer()
        if kind == _DOUBLE:
            self.pos += 8
            return self.data[self.pos - 8 : self.pos]  # kept as its bytes: never changed
        if kind == _BINARY:
            n = self.varint()
            self.pos += n
            return self.data[self.pos - n : self.pos]
        if kind in (_LIST, _SET):
            header = self.byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            return element, [self.value(element) for _ in range(size)]
        if kind == _STRUCT:
            return self.struct()
        raise Unsupported(f"Thrift type {kind}")

    def struct(self) -> Struct:
        fields: Struct = {}
        field = 0
        while True:
            header = self.byte()
            if header == 0:
                return fields
            delta, kind = header >> 4, header & 0x0F
            field = field + delta if delta else self.integer()
            fields[field] = (kind, kind == _TRUE) if kind in (_TRUE, _FALSE) else (kind, self.value(kind))


class _Writer:
    """Thrift compact protocol values into bytes."""

    def __init__(self) -> None:
        self.out = bytearray()

    def done(self) -> bytes:
        return bytes(self.out)

    def varint(self, n: int) -> None:
        while n > 0x7F:
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7
        self.out.append(n)

    def integer(self, n: int) -> None:
        self.varint((n << 1) ^ (n >> 63))  # zigzag

    def value(self, kind: int, value: Any) -> None:
        if kind in (_TRUE, _FALSE):
            self.out.append(_TRUE if value else _FALSE)
        elif kind == _I8:
            self.out.append(value & 0xFF)
        elif kind in _INTEGERS:
            self.integer(value)
        elif kind in (_DOUBLE, _BINARY):
            if kind == _BINARY:
                self.varint(len(value))
            self.out += value
        elif kind in (_LIST, _SET):
            element, items = value
            if len(items) < 15:
                self.out.append(len(items) << 4 | element)
            else:
                self.out.append(0xF0 | element)
                self.varint(len(items))
            for item in items:
                self.value(element, item)
        else:
            self.struct(value)

    def struct(self, fields: Struct) -> _Writer:
        last = 0
        for field in sorted(fields):
            kind, value = fields[field]
            if kind in (_TRUE, _FALSE):
                kind = _TRUE if value else _FALSE
            if 0 < field - last <= 15:
                self.out.append((field - last) << 4 | kind)
            else:
                self.out.append(kind)
                self.integer(field)
            if kind not in (_TRUE, _FALSE):
                self.value(kind, value)
            last = field
        self.out.append(0)
        return self
