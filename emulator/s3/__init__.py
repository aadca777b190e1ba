"""moto, mounted in-process behind the gateway for every request that is not ours (S3, STS, IAM, SQS…).

`AwsMount` is the ASGI app the gateway hands such requests to. This package owns everything about
moto: the account it reports, and making S3 durable and streaming. Nothing outside this package
imports moto.

Modules:
- `durability`: restore at start-up, persist after every mutating request (`DurableS3App`), the design;
- `moto_patches`: every change made to moto's S3 classes, listed in one table;
- `blobs`: object bodies as files, and the lazy views that let them stream;
- `multipart`: completing a multipart upload file to file, with moto's ETag and checksums;
- `snapshots`: moto objects <-> JSON documents; `index`: the SQLite file that stores the documents.

Memory: besides streaming bodies (see `moto_patches`), `AwsMount` runs moto's Flask apps out of debug
mode and fixes glibc's mmap threshold; without both, every upload part lingers in the process after
its request (see `_app_factory` and `_return_large_buffers_to_os`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

from emulator.config import Settings


class AwsMount:
    """moto's WSGI dispatcher wrapped for ASGI, with S3 restored from and persisted to `settings.s3_dir`."""

    def __init__(self, settings: Settings) -> None:
        os.environ["MOTO_ACCOUNT_ID"] = settings.account_id
        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
        from a2wsgi import WSGIMiddleware
        from moto.server import DomainDispatcherApplication

        from emulator.s3.durability import DurableS3App, S3Durability

        self._settings = settings
        _return_large_buffers_to_os()
        self._durability = S3Durability(settings.s3_dir)
        self._durability.restore()
        self._wsgi = DurableS3App(DomainDispatcherApplication(_app_factory), self._durability)
        self._asgi = WSGIMiddleware(self._wsgi, workers=16)  # type: ignore[arg-type]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)  # type: ignore[arg-type]

    def ensure_bucket(self, name: str) -> None:
        from moto.s3.models import s3_backends

        backend = s3_backends[self._settings.account_id]["aws"]
        if name not in backend.buckets:
            backend.create_bucket(name, self._settings.region)
            self._durability.discard(self._durability.sync({(name, None)}))

    def close(self) -> None:
        """Close the S3 index; everything acknowledged is already on disk."""
        self._durability.close()


def _app_factory(service: Any) -> Any:
    """moto's per-service Flask app, out of debug mode.

    In debug mode Flask gives each request's `files` a class whose method closes over the request: a
    reference cycle that keeps every request body (a whole upload part) alive until the cyclic GC runs.
    """
    from moto.server import create_backend_app

    app = create_backend_app(service)
    app.debug = False
    app.config["PROPAGATE_EXCEPTIONS"] = True  # as in debug mode: unexpected errors reach the server
    return app


def _return_large_buffers_to_os() -> None:
    """Have glibc serve allocations of 1 MiB and more with mmap, so freeing them returns the memory.

    Request bodies (an upload part is 8 MiB or more) are allocated and freed by many threads. glibc's
    default threshold grows to 32 MiB after the first large free, after which such buffers come from
    the per-thread heaps, which fragment and keep the process's RSS at its high-water mark. A fixed
    threshold keeps a 1 GiB multipart upload within ~100 MB of extra RSS. No-op without glibc.
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold = -3
    mallopt(m_mmap_threshold, 1024 * 1024)
