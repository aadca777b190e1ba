"""moto's S3 objects as JSON documents, and back: what the index stores for buckets and object versions.

- An object version (`FakeKey`) becomes a document of its attributes (ETag, size, metadata, content type,
  storage class, encryption, lock, checksum, ACL, tags, last-modified …); its body stays in its blob,
  whose name the index keeps beside the document.
- A delete marker (`FakeDeleteMarker`, versioned buckets) keeps its version id and date.
- A bucket (`FakeBucket`) keeps every attribute except its keys and uploads: plain values as JSON, the
  few rich configuration objects (lifecycle rules, CORS, notifications…) pickled inside the JSON.
  Tags, which moto keeps in the backend's tagger, travel in the documents of their resource.

Documents are dumped with sorted keys so that equal state gives equal text (the sync skips no-op writes).

Not here: where documents are stored (`index.py`), when they are written (`durability.py`).
In-progress multipart uploads are not documented here and do not survive a restart.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import pickle
from typing import Any

from emulator.s3.blobs import PreparedBlob

log = logging.getLogger(__name__)

_KEY_ATTRIBUTES = (
    "_version_id",
    "_is_versioned",
    "_storage_class",
    "_expiry",
    "_status",
    "last_modified",
    "encryption",
    "kms_key_id",
    "bucket_key_enabled",
    "lock_mode",
    "lock_legal_status",
    "lock_until",
    "checksum_algorithm",
    "checksum_value",
    "checksum_type",
    "checksum_parts",
    "website_redirect_location",
)
_BUCKET_SKIPPED = frozenset({"keys", "multiparts", "name", "account_id", "partition"})


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def backend_for(account_id: str, partition: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account_id][partition]


# --- values ----------------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """A JSON-able form of `value`: datetimes and bytes tagged, unknown objects pickled."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if type(value) is dict and all(isinstance(k, str) and not k.startswith("$") for k in value):
        return {key: encode(item) for key, item in value.items()}
    return {"$pickle": base64.b64encode(pickle.dumps(value)).decode()}


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$datetime" in value:
        return datetime.datetime.fromisoformat(value["$datetime"])
    if "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if "$pickle" in value:
        return pickle.loads(base64.b64decode(value["$pickle"]))  # our own data dir only
    return {key: decode(item) for key, item in value.items()}


def _acl_to_json(acl: Any) -> list[Any] | None:
    if acl is None:
        return None
    return [[[[g.id, g.uri, g.display_name] for g in grant.grantees], list(grant.permissions)] for grant in acl.grants]


def _acl_from_json(grants: list[Any] | None) -> Any:
    from moto.s3.models import FakeAcl, FakeGrant, FakeGrantee

    if grants is None:
        return None
    return FakeAcl(
        [
            FakeGrant([FakeGrantee(grantee_id=i, uri=u, display_name=d) for i, u, d in grantees], perms)
            for grantees, perms in grants
        ]
    )


# --- object versions -------------------------------------------------------------------------------


def version_document(version: Any, tagger: Any) -> dict[str, Any]:
    """The document of a `FakeKey` or `FakeDeleteMarker`."""
    from moto.s3.models import FakeDeleteMarker

    if isinstance(version, FakeDeleteMarker):
        return {
            "marker": True,
            "version_id": version.version_id,
            "last_modified": encode(version.last_modified),
        }
    metadata = version.metadata
    return {
        "etag": version.etag.strip('"'),
        "size": version.contentsize,
        "account_id": version.account_id,
        "region_name": version.region_name,
        "metadata": [[name, value] for name, value in metadata.items()],
        "metadata_lowercase": type(metadata).__name__ == "LowercaseDict",
        "acl": _acl_to_json(version.acl),
        "tags": tagger.get_tag_dict_for_resource(version.arn),
        "attributes": {name: encode(getattr(version, name, None)) for name in _KEY_ATTRIBUTES},
    }


def build_version(bucket: Any, name: str, document: dict[str, Any], blob: str | None, below: Any) -> Any:
    """A `FakeKey` (body in `blob`) or a `FakeDeleteMarker` (masking `below`) from its document."""
    from moto.s3.models import FakeDeleteMarker

    if document.get("marker"):
        marker = FakeDeleteMarker(key=below if below is not None else _Named(name))  # type: ignore[arg-type]
        marker._version_id = document["version_id"]
        marker.last_modified = decode(document["last_modified"])
        return marker
    return _build_key(bucket, name, document, blob)


class _Named:
    """What a delete marker masks when nothing older is left (moto reads only its `name`)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _build_key(bucket: Any, name: str, document: dict[str, Any], blob: str | None) -> Any:
    from moto.s3.models import FakeKey
    from moto.utilities.utils import LowercaseDict

    key = FakeKey(
        name=name,
        value=PreparedBlob(blob, document["size"]),  # type: ignore[arg-type]
        account_id=document["account_id"],
        region_name=document["region_name"],
        etag=document["etag"],
        bucket_name=bucket.name,
    )
    for attribute, value in document["attributes"].items():
        setattr(key, attribute, decode(value))
    metadata: Any = LowercaseDict() if document["metadata_lowercase"] else {}
    metadata.update(document["metadata"])
    key._metadata = metadata
    key.acl = _acl_from_json(document["acl"])
    vars(key).update(_indexed=True, _blob_synced=True)  # its blob is the one the index names
    if document["tags"]:
        backend_for(bucket.account_id, bucket.partition).tagger.tag_resource(
            key.arn, [{"Key": k, "Value": v} for k, v in document["tags"].items()]
        )
    return key


# --- buckets ---------------------------------------------------------------------------------------


def bucket_document(bucket: Any, tagger: Any) -> dict[str, Any]:
    attributes = {}
    for name, value in vars(bucket).items():
        if name in _BUCKET_SKIPPED:
            continue
        try:
            attributes[name] = encode(value)
        except Exception:  # an attribute pickle cannot handle is not persisted, but never fails a request
            log.warning("S3 bucket %s: attribute %s is not persisted", bucket.name, name, exc_info=True)
    return {
        "account_id": bucket.account_id,
        "partition": bucket.partition,
        "attributes": attributes,
        "tags": tagger.get_tag_dict_for_resource(bucket.arn),
    }


def build_bucket(name: str, document: dict[str, Any]) -> Any:
    """Recreate a bucket in its backend, with its attributes and tags (no keys yet)."""
    from moto.s3.models import FakeBucket

    attributes = document["attributes"]
    bucket = FakeBucket(  # type: ignore[abstract]
        name, account_id=document["account_id"], region_name=attributes["region_name"]
    )
    for attribute, value in attributes.items():
        try:
            setattr(bucket, attribute, decode(value))
        except Exception:
            log.warning("S3 bucket %s: attribute %s could not be restored", name, attribute, exc_info=True)
    backend = backend_for(document["account_id"], document["partition"])
    backend.buckets[name] = bucket
    if document["tags"]:
        backend.tagger.tag_resource(bucket.arn, [{"Key": k, "Value": v} for k, v in document["tags"].items()])
    return bucket
