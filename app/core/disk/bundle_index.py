"""Read a checkpoint's ``.index`` file: the tensor-bundle table of every saved variable.

TensorFlow's ``CheckpointReader`` gives names, shapes and dtypes but not the
layout (shard count, offsets, sizes) needed to say *which* data shard is missing
or truncated. The index is a LevelDB-format table whose values are TensorFlow's
own ``BundleHeaderProto`` / ``BundleEntryProto`` messages; this module walks the
table and decodes those messages with TensorFlow's protobuf classes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from app.core.dtypes import dtype_name, dtype_size
from app.core.errors import CheckpointError, read_checkpoint_file

_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
_BLOCK_TRAILER = 5


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """Where one saved tensor lives and what it is."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor's values (its stored size for strings)."""
        count = 1
        for dim in self.shape:
            count *= dim
        itemsize = dtype_size(self.dtype)
        return count * itemsize if itemsize else self.size


@dataclass(frozen=True)
class BundleIndex:
    path: Path
    num_shards: int
    entries: dict[str, BundleEntry]

    def check_shard_sizes(self, shards: tuple[Path, ...]) -> None:
        """Raise if a data shard is shorter than the tensors the index places in it."""
        # By shard that holds something: num_shards is the file's claim (up to 2^31 - 1).
        needed: dict[int, int] = {}
        for entry in self.entries.values():
            if 0 <= entry.shard < self.num_shards:
                needed[entry.shard] = max(needed.get(entry.shard, 0), entry.offset + entry.size)
        for number, need in sorted(needed.items()):
            shard = shards[number]
            size = shard.stat().st_size
            if size < need:
                raise CheckpointError(
                    f"{shard}: truncated ({size} of {need} bytes) — copy the data shard again"
                )


class _Corrupt(Exception):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Corrupt("bad varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, handle: bytes, pos: int = 0) -> tuple[bytes, int]:
    offset, pos = _varint(handle, pos)
    size, pos = _varint(handle, pos)
    end = offset + size
    if end + _BLOCK_TRAILER > len(data):
        raise _Corrupt("block past end of file")
    if data[end] != 0:  # compression type; bundles are written uncompressed
        raise _Corrupt("compressed block")
    return data[offset:end], pos


def _entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise _Corrupt("short block")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise _Corrupt("bad restart count")
    out = []
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + length > limit:
            raise _Corrupt("bad entry")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        out.append((key, block[pos : pos + length]))
        pos += length
    return out


def read_bundle_index(path: Path) -> BundleIndex:
    """Parse ``path`` (a ``.index`` file); raise `CheckpointError` if it is not one."""
    from google.protobuf.message import DecodeError

    from app.core.graph.protos import BundleEntryProto, BundleHeaderProto

    data = read_checkpoint_file(path)

    fix = "the variable index is damaged; copy the .index file again from the training machine"
    if len(data) < _FOOTER:
        raise CheckpointError(f"{path}: corrupt index ({len(data)} bytes, too short) — {fix}")
    footer = data[-_FOOTER:]
    if struct.unpack("<Q", footer[-8:])[0] != _MAGIC:
        raise CheckpointError(f"{path}: corrupt index (not a tensor-bundle table) — {fix}")

    header = None
    entries: dict[str, BundleEntry] = {}
    try:
        _, pos = _block(data, footer)  # metaindex block, unused
        index_block, _ = _block(data, footer, pos)
        for _, handle in _entries(index_block):
            block, _ = _block(data, handle)
            for key, value in _entries(block):
                if key == b"":
                    header = BundleHeaderProto.FromString(value)
                    continue
                if key[:1] == b"\x00":  # slice of a partitioned variable
                    continue
                proto = BundleEntryProto.FromString(value)
                name = key.decode("utf-8", "replace")
                entries[name] = BundleEntry(
                    name=name,
                    dtype=dtype_name(proto.dtype),
                    shape=tuple(d.size for d in proto.shape.dim),
                    shard=proto.shard_id,
                    offset=proto.offset,
                    size=proto.size,
                )
    except (_Corrupt, DecodeError, UnicodeDecodeError, IndexError, struct.error) as exc:
        raise CheckpointError(f"{path}: corrupt index ({exc}) — {fix}") from exc
    if header is None or header.num_shards < 1:
        raise CheckpointError(f"{path}: corrupt index (no bundle header) — {fix}")
    return BundleIndex(path=path, num_shards=header.num_shards, entries=entries)
