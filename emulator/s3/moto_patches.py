"""Every change this emulator makes to moto's S3, in one place, installed once by `install()`.

moto keeps object bodies in `SpooledTemporaryFile`s, reads whole objects into memory to serve them,
joins multipart uploads in memory and never lets a model be garbage-collected. The patches below make
bodies live in blob files (`blobs.py`), stream, and tell `durability` which buckets and keys a request
touched. Each is a small wrapper or replacement at a well-defined point of moto 5.x:

| moto point                                   | change                                                      |
|----------------------------------------------|-------------------------------------------------------------|
| `FakeKey.value` (property)                   | setter writes a blob (or adopts a `PreparedBlob`, or copies  |
|                                              | / hard-links a `BlobBody`); getter reads the blob, or returns|
|                                              | a lazy `BlobBody` inside `lazy_values()`                     |
| `FakeKey.__getstate__` / `__setstate__`      | copies (moto deep-copies keys to list versions) share the    |
|                                              | blob without reading it and never delete it                  |
| `FakeKey.__del__`                            | a key that never reached the index deletes its blob          |
| `FakeMultipart.complete`                     | `multipart.complete_streaming`: concatenates part files      |
| `FakeMultipart.dispose`                      | deletes the part blobs (after completion or abort)           |
| `S3Response.get_object`                      | runs in `lazy_values()`: the response body is a `BlobBody`   |
| `S3Backend.copy_object` / `upload_part_copy` | run in `lazy_values()`: the source is copied file to file    |
| `S3Response.setup_class`                     | records the bucket / key of every PUT, POST and DELETE       |
| `S3Backend.put_object` / `delete_object`     | record the key (covers DeleteObjects and POST uploads)       |
| `instances_tracked` of every S3 model class  | replaced by a list that keeps nothing, so replaced and       |
|                                              | deleted keys (and their blobs) can be garbage-collected      |

Blob ownership: a key "owns" the blob it wrote. Until the key has been written to the index its blob is
deleted when the key is garbage-collected (or, for parts, when moto disposes the upload); once indexed,
only `durability` deletes it, after committing an index without it. Copies made by `copy.deepcopy` own
nothing.

Not here: the index, the sync and restore logic (`durability.py`), moto-object <-> JSON (`snapshots.py`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from emulator.s3.blobs import BlobBody, BlobReader, BlobStore, PreparedBlob
from emulator.s3.multipart import complete_streaming

Touched = tuple[str, str | None]  # (bucket, key); key None: the bucket itself
MUTATING_METHODS = frozenset({"PUT", "POST", "DELETE"})

_local = threading.local()
_store: BlobStore | None = None
_installed = False


def install(store: BlobStore) -> None:
    """Point the patches at `store`; patch moto on the first call only."""
    global _installed, _store
    _store = store
    if _installed:
        return
    _patch_key_bodies()
    _patch_multipart()
    _patch_lazy_reads()
    _patch_tracking()
    _stop_instance_tracking()
    _installed = True


def _patch(owner: Any, name: str, replacement: Any) -> None:
    """The one way this module changes moto: replace attribute `name` of class `owner`."""
    setattr(owner, name, replacement)


def blobs() -> BlobStore:
    if _store is None:
        raise RuntimeError("emulator.s3.moto_patches.install() has not been called")
    return _store


@contextmanager
def tracking() -> Iterator[set[Touched]]:
    """Collect the buckets and keys that the moto requests handled in this thread touch."""
    touched: set[Touched] = set()
    previous = getattr(_local, "touched", None)
    _local.touched = touched
    try:
        yield touched
    finally:
        _local.touched = previous


def _touch(bucket: str | None, key: str | None) -> None:
    touched = getattr(_local, "touched", None)
    if touched is not None and bucket:
        touched.add((bucket, key or None))


@contextmanager
def lazy_values() -> Iterator[None]:
    """Inside, `FakeKey.value` returns a lazily read `BlobBody` instead of bytes."""
    _local.lazy = getattr(_local, "lazy", 0) + 1
    try:
        yield
    finally:
        _local.lazy -= 1


def plain_md5(etag: str | None) -> str | None:
    """The MD5 an ETag stands for, when it is one (multipart ETags `<md5>-<n>` are not)."""
    if etag is None:
        return None
    etag = etag.strip('"')
    return etag if len(etag) == 32 and "-" not in etag else None


# --- FakeKey bodies --------------------------------------------------------------------------------


def _value_get(key: Any) -> bytes | BlobBody:
    if getattr(_local, "lazy", 0):
        return blobs().open_body(key._blob, key.contentsize, plain_md5(key._etag))
    return blobs().read(key._blob)


def _value_set(key: Any, new_value: Any) -> None:
    store = blobs()
    previous = key.__dict__.get("_blob")
    replacing = "_blob" in key.__dict__
    if replacing and key._blob_owner and not key._indexed:
        store.unlink(previous)
    name, size, md5 = _store_value(store, new_value)
    key._blob = name
    key._blob_owner = True
    key._indexed = False  # set by durability once an index row references the blob
    key._blob_synced = False  # set once the blob has been fsync'd
    key._value_buffer = BlobReader(store, name)
    key.contentsize = size
    if md5 is not None and (replacing or key._etag is None):
        key._etag = md5


def _store_value(store: BlobStore, value: Any) -> tuple[str | None, int, str | None]:
    if isinstance(value, PreparedBlob):
        return value.name, value.size, None
    if isinstance(value, BlobBody):
        name, md5 = store.copy(value)
        return name, value.length, md5
    if isinstance(value, str):
        value = value.encode("utf-8")
    data = value if isinstance(value, bytes) else bytes(value)
    name, md5 = store.write(data)
    return name, len(data), md5


def _key_getstate(key: Any) -> dict[str, Any]:
    state = key.__dict__.copy()
    state.pop("_value_buffer", None)
    state.pop("lock", None)
    state["_blob_owner"] = False
    return state


def _key_setstate(key: Any, state: dict[str, Any]) -> None:
    key.__dict__.update(state)
    key._value_buffer = BlobReader(blobs(), state.get("_blob"))
    key.lock = threading.Lock()


def _key_del(key: Any) -> None:
    """moto's `__del__` (dispose) without its ResourceWarning, then drop a never-indexed blob."""
    state = key.__dict__
    if "_value_buffer" in state and not state.get("disposed", True):
        key.dispose()
    if state.get("_blob_owner") and not state.get("_indexed") and _store is not None:
        _store.unlink(state.get("_blob"))


def _patch_key_bodies() -> None:
    from moto.s3.models import FakeKey

    _patch(FakeKey, "value", property(_value_get, _value_set))
    _patch(FakeKey, "__getstate__", _key_getstate)
    _patch(FakeKey, "__setstate__", _key_setstate)
    _patch(FakeKey, "__del__", _key_del)


# --- multipart uploads -----------------------------------------------------------------------------


def _patch_multipart() -> None:
    from moto.s3.models import FakeMultipart

    original_dispose = FakeMultipart.dispose

    def complete(multipart: Any, body: Any) -> Any:
        return complete_streaming(blobs(), multipart, body)

    def dispose(multipart: Any) -> None:
        original_dispose(multipart)
        for part in multipart.parts.values():
            if part.__dict__.get("_blob_owner") and not part.__dict__.get("_indexed"):
                blobs().unlink(part._blob)

    _patch(FakeMultipart, "complete", complete)
    _patch(FakeMultipart, "dispose", dispose)


# --- streaming reads -------------------------------------------------------------------------------


def _in_lazy_values(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with lazy_values():
            return method(*args, **kwargs)

    return wrapper


def _patch_lazy_reads() -> None:
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    _patch(S3Response, "get_object", _in_lazy_values(S3Response.get_object))
    _patch(S3Backend, "copy_object", _in_lazy_values(S3Backend.copy_object))
    _patch(S3Backend, "upload_part_copy", _in_lazy_values(S3Backend.upload_part_copy))


# --- what a request touched ------------------------------------------------------------------------


def _patch_tracking() -> None:
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    original_setup = S3Response.setup_class
    original_put = S3Backend.put_object
    original_delete = S3Backend.delete_object

    @functools.wraps(original_setup)
    def setup_class(response: Any, request: Any, *args: Any, **kwargs: Any) -> None:
        original_setup(response, request, *args, **kwargs)
        if request.method in MUTATING_METHODS:
            _touch(response.bucket_name, response.parse_key_name())

    @functools.wraps(original_put)
    def put_object(backend: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        _touch(bucket_name, key_name)
        return original_put(backend, bucket_name, key_name, *args, **kwargs)

    @functools.wraps(original_delete)
    def delete_object(backend: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        _touch(bucket_name, key_name)
        return original_delete(backend, bucket_name, key_name, *args, **kwargs)

    _patch(S3Response, "setup_class", setup_class)
    _patch(S3Backend, "put_object", put_object)
    _patch(S3Backend, "delete_object", delete_object)


class _Untracked(list[Any]):
    """A stand-in for moto's `instances_tracked` that forgets what it is given."""

    def append(self, item: Any) -> None:
        pass


def _stop_instance_tracking() -> None:
    import moto.s3.models  # noqa: F401  (defines and registers the S3 model classes)
    from moto.core.model_instances import model_data

    for model in model_data["s3"].values():
        _patch(model, "instances_tracked", _Untracked())
