"""Object bodies as immutable files under `<s3_dir>/blobs/`, and the lazy views moto's keys hand out.

Every S3 object version (and every in-progress multipart part) owns one blob file, named by a random id
and never modified after it is written; a new body is always a new blob. That makes sharing by hard link
(CopyObject) and reading while another request replaces the key safe.

Key types:
- `BlobStore`: create / link / copy / fsync / unlink / list blob files.
- `PreparedBlob`: "this blob already holds the body" — what multipart completion and restore hand to a
  moto key instead of bytes, so the body is never loaded into memory.
- `BlobBody`: a lazily read byte range of a blob (len, slicing, iteration in chunks). GetObject returns
  it instead of bytes, so werkzeug streams it and moto's Range handling slices it without reading.
- `BlobReader`: the minimal file-like (`seek` / `read` / `close`) moto's `FakeKey` expects in
  `_value_buffer`; it opens the file per read, so no descriptor stays open per key.

Not here: which blobs are referenced (that is the index, `index.py`) and when a blob may be deleted
(`durability.py` and `moto_patches.py` decide; this module only does what it is told).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 256 * 1024  # size of the pieces a streamed body is read and sent in
COPY_CHUNK_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class PreparedBlob:
    """A body that already sits in the blob `name` (None: the empty body) and has `size` bytes."""

    name: str | None
    size: int


class _OpenBlob:
    """One open descriptor of a blob, shared by a `BlobBody` and its slices; closed once, at the end."""

    def __init__(self, path: Path) -> None:
        self.fd: int | None = os.open(path, os.O_RDONLY)

    def pread(self, size: int, offset: int) -> bytes:
        if self.fd is None:
            raise ValueError("read from a closed object body")
        return os.pread(self.fd, size, offset)

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class BlobBody:
    """Bytes `[start, start + length)` of a blob, read only when iterated.

    Holds the file open from creation, so the body stays readable even if the key is replaced and its
    blob unlinked meanwhile. Supports what moto and werkzeug do with a response body: `len`, truth,
    contiguous slicing (which returns another `BlobBody`), iteration and `close`.
    """

    def __init__(self, handle: _OpenBlob, start: int, length: int, name: str, md5: str | None) -> None:
        self._handle = handle
        self.start = start
        self.length = length
        self.name = name  # the blob this range belongs to
        self.md5 = md5  # hex MD5 of the bytes in range, when known without reading them

    def __len__(self) -> int:
        return self.length

    def __bool__(self) -> bool:
        return self.length > 0

    def __getitem__(self, item: slice) -> BlobBody:
        if not isinstance(item, slice):
            raise TypeError("BlobBody supports slices only")
        start, stop, step = item.indices(self.length)
        if step != 1:
            raise ValueError("BlobBody supports contiguous slices only")
        length = max(0, stop - start)
        whole = start == 0 and length == self.length
        return BlobBody(self._handle, self.start + start, length, self.name, self.md5 if whole else None)

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        offset, end = self.start, self.start + self.length
        while offset < end:
            chunk = self._handle.pread(min(chunk_size, end - offset), offset)
            if not chunk:
                raise OSError(f"blob {self.name} is shorter than expected")
            offset += len(chunk)
            yield chunk

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks()

    def close(self) -> None:
        self._handle.close()


class BlobReader:
    """The file-like moto's `FakeKey` keeps in `_value_buffer` (it seeks, reads and closes it)."""

    def __init__(self, store: BlobStore, name: str | None) -> None:
        self._store = store
        self._name = name
        self._position = 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET:
            raise ValueError("BlobReader seeks from the start only")
        self._position = offset
        return offset

    def read(self, size: int = -1) -> bytes:
        if self._name is None:
            return b""
        with open(self._store.path(self._name), "rb") as file:
            file.seek(self._position)
            data = file.read(size)
        self._position += len(data)
        return data

    def close(self) -> None:
        """Nothing is held open between reads."""


class BlobStore:
    """The directory of blob files: `<root>/<first two hex digits>/<32 hex digits>`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._shards: set[str] = {entry.name for entry in self.root.iterdir() if entry.is_dir()}

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name

    def _new_name(self) -> str:
        name = uuid.uuid4().hex
        shard = name[:2]
        if shard not in self._shards:
            (self.root / shard).mkdir(exist_ok=True)
            self._shards.add(shard)
        return name

    def create(self) -> tuple[str, BinaryIO]:
        """A new, empty blob opened for writing; the caller writes it and closes the file."""
        name = self._new_name()
        return name, open(self.path(name), "xb")

    def write(self, data: bytes) -> tuple[str | None, str]:
        """Store `data` as a new blob; returns its name (None for the empty body) and hex MD5."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if not data:
            return None, md5
        name, file = self.create()
        with file:
            file.write(data)
        return name, md5

    def copy(self, body: BlobBody) -> tuple[str | None, str]:
        """A new blob holding the bytes of `body`; a hard link when it is a whole blob with a known MD5."""
        if body.length == 0:
            return None, hashlib.md5(b"", usedforsecurity=False).hexdigest()
        if body.md5 is not None and body.start == 0 and body.length == self.size(body.name):
            linked = self._link(body.name)
            if linked is not None:
                return linked, body.md5
        md5 = hashlib.md5(usedforsecurity=False)
        name, file = self.create()
        with file:
            for chunk in body.chunks(COPY_CHUNK_SIZE):
                md5.update(chunk)
                file.write(chunk)
        return name, md5.hexdigest()

    def _link(self, source: str) -> str | None:
        name = self._new_name()
        try:
            os.link(self.path(source), self.path(name))
        except OSError:
            return None  # e.g. a file system without hard links: fall back to copying
        return name

    def open_body(self, name: str | None, size: int, md5: str | None) -> BlobBody | bytes:
        """The whole blob as a lazily read body (the empty body is plain `b""`)."""
        if name is None:
            return b""
        return BlobBody(_OpenBlob(self.path(name)), 0, size, name, md5)

    def read(self, name: str | None) -> bytes:
        if name is None:
            return b""
        return self.path(name).read_bytes()

    def size(self, name: str) -> int:
        return self.path(name).stat().st_size

    def fsync(self, name: str | None) -> None:
        """Make the blob's bytes durable (on ext4/xfs this also commits its new directory entry)."""
        if name is None:
            return
        fd = os.open(self.path(name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def unlink(self, name: str | None) -> None:
        if name is not None:
            self.path(name).unlink(missing_ok=True)

    def names(self) -> set[str]:
        """Every blob on disk (start-up uses it to delete those nothing references)."""
        return {file.name for shard in self.root.iterdir() if shard.is_dir() for file in shard.iterdir()}
