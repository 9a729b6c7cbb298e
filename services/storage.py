"""Where citizens' photos are kept: a folder on the web node, or an S3-compatible bucket.

A photo is named by a key, the relative path the database already holds
(`ab/ab12….jpg`, see the photo intake): the same key reads the same bytes from either
store, so `migrate` moves a town's photos to a bucket and back without touching a row.

Both stores write a photo whole or not at all, and say `StoreUnavailable` quickly when
the storage cannot be reached, so the caller keeps the report and retries the photo. A
bucket that times out is not called again for BREAKER_SECONDS (services/breaker.py):
meanwhile every call says StoreUnavailable at once, so a hung bucket cannot hold the web
workers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import mimetypes
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from services.breaker import Breaker

# What a web request may wait on the bucket, once (each caller retries later: the worker's
# job, the citizen on /r/, the browser after Retry-After). A read (GET, HEAD, a listing
# page, a delete): CONNECT_SECONDS, then READ_SECONDS for the bucket to answer. A write
# waits WRITE_SECONDS for the answer once the photo is sent. /r/'s HEAD then PUT take at
# most 2 + 3 + 2 + 8 = 15 s, well under gunicorn's 35 s (deploy/gunicorn.conf.py).
CONNECT_SECONDS = 2.0
READ_SECONDS = 3.0
WRITE_SECONDS = 8.0
# After a timeout or a refused connection, the bucket is left alone this long.
BREAKER_SECONDS = 30.0


class StoreError(Exception):
    """A store refused an operation for a reason retrying will not cure."""


class StoreUnavailable(StoreError):
    """The storage could not be reached or answered a server error: retry later.

    `retry_after`: the seconds before it is called again, when the breaker knows them.
    """

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreMisconfigured(StoreError):
    """The storage answered but refused us: wrong keys, missing bucket, no permission."""


class PhotoNotFound(StoreError, LookupError):
    """No photo is stored under this key."""


class BadKey(StoreError, ValueError):
    """A key that is not a plain relative path (`..`, absolute, empty parts)."""


# A key is what store_photo writes: a relative path of plain names.
_KEY_PART = re.compile(r"^[A-Za-z0-9._-]+$")
# What tempfile.NamedTemporaryFile leaves behind when a process dies mid-write in the
# photo folder (the intake wrote that way before this module): never a photo.
_LEFTOVER_TEMP = re.compile(r"^tmp[a-z0-9_]{8}$")
_TEMP_PREFIX = ".tmp-"


def checked_key(key: str) -> str:
    """Returns the key if it is a relative path of plain names, else raises BadKey."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or not _KEY_PART.match(p) for p in parts):
        raise BadKey(key)
    return key


def content_type_of(key: str) -> str:
    """Guesses a photo's media type from its key (the stores keep none on disk)."""
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


@runtime_checkable
class MediaStore(Protocol):
    """The operations the product needs on stored photos."""

    def put(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """Stores the bytes under the key, whole or not at all."""

    def get(self, key: str) -> bytes:
        """Returns the bytes stored under the key; PhotoNotFound if none."""

    def open(self, key: str) -> BinaryIO:
        """Returns a readable stream of the stored bytes, to serve without holding them."""

    def exists(self, key: str) -> bool:
        """Says whether a photo is stored under the key."""

    def size(self, key: str) -> int | None:
        """Returns the stored size in bytes, None if nothing is stored."""

    def delete(self, key: str) -> None:
        """Deletes the photo; deleting what is not there is not an error."""

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Yields every stored key starting with prefix, in no promised order."""

    def signed_url(self, key: str, expires: int = 300) -> str | None:
        """A URL a browser can fetch for `expires` seconds, or None: serve it yourself."""


class LocalStore:
    """Photos as files under a folder (MEDIA_DIR), the key being the relative path."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file a key names, for send_file; refuses anything outside the folder."""
        checked_key(key)
        root = self.root.resolve()
        path = (root / key).resolve()
        if root not in path.parents:
            raise BadKey(key)
        return path

    def put(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a crash never leaves half a picture under the final name.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_TEMP_PREFIX)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {key} under {self.root}: {exc}") from exc

    def get(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise PhotoNotFound(key) from exc
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {key} under {self.root}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot delete {key} under {self.root}: {exc}") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or _LEFTOVER_TEMP.match(name):
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def signed_url(self, key: str, expires: int = 300) -> str | None:
        return None


# Server errors worth a retry (BadDigest: the bytes were damaged on the way); anything
# else the bucket answers is our fault.
_UNAVAILABLE_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "BadDigest",
}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
# One session for every store: building a client from a fresh session re-reads the
# service's model files (a third of a second of CPU). boto3 itself takes most of a second
# to import: only a town with MEDIA_STORAGE=s3 does, when its first store is built.
_SESSION = None
_SESSION_LOCK = threading.Lock()


def _boto_session():
    global _SESSION
    if _SESSION is None:
        import boto3

        _SESSION = boto3.session.Session()
    return _SESSION


class S3Store:
    """Photos as objects of an S3-compatible bucket (SeaweedFS, MinIO, Garage, AWS…).

    Path-style addressing (`endpoint/bucket/key`), because S3-compatible servers rarely
    have the wildcard DNS virtual-host style needs. Timeouts are short and there is one
    attempt: a bucket that refuses connections costs a request a few milliseconds, one
    that accepts them and never answers READ_SECONDS (a write: WRITE_SECONDS). Either way
    the breaker then opens: for BREAKER_SECONDS every call fails at once.
    """

    def __init__(
        self,
        endpoint_url: str | None,
        bucket: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str | None = None,
        *,
        connect_timeout: float = CONNECT_SECONDS,
        read_timeout: float = READ_SECONDS,
        write_timeout: float = WRITE_SECONDS,
        max_attempts: int = 1,
        page_size: int = 1000,
        breaker_seconds: float = BREAKER_SECONDS,
    ) -> None:
        if not bucket:
            raise StoreMisconfigured("S3_BUCKET is required with MEDIA_STORAGE=s3")
        self.endpoint_url = endpoint_url or None
        self.bucket = bucket
        self.page_size = page_size
        self.breaker = Breaker(breaker_seconds)

        from botocore.config import Config

        def client(answer_timeout: float):
            config = Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                connect_timeout=connect_timeout,
                read_timeout=answer_timeout,
                retries={"mode": "standard", "total_max_attempts": max_attempts},
                # boto3's default CRC trailers (since 1.36) are refused by several
                # S3-compatible servers; Content-MD5, set on put, is understood by all.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            return _boto_session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                aws_access_key_id=access_key_id or None,
                aws_secret_access_key=secret_access_key or None,
                region_name=region or "us-east-1",
                config=config,
            )

        with _SESSION_LOCK:  # a Session is not thread-safe; its clients are
            self.client = client(read_timeout)
            # A photo's upload may take longer to be acknowledged than a read to start.
            self.writer = client(write_timeout)

    def __repr__(self) -> str:
        return f"S3Store({self.endpoint_url!r}, {self.bucket!r})"

    def _where(self, key: str = "") -> str:
        return f"s3 {self.endpoint_url or 'aws'} bucket {self.bucket}" + (
            f" key {key}" if key else ""
        )

    def _call(self, request, key: str = "", reading: bool = True):
        """Runs one request on the bucket, unless the breaker is open; failures are ours."""
        from botocore.exceptions import BotoCoreError, ClientError

        self._check_breaker(key)
        try:
            result = request()
        except (ClientError, BotoCoreError) as exc:
            raise self._failure(exc, key, reading) from exc
        self.breaker.reset()
        return result

    def _check_breaker(self, key: str = "") -> None:
        remaining = self.breaker.remaining()
        if remaining > 0:
            raise StoreUnavailable(
                f"{self._where(key)}: failed recently; not retried for {remaining:.0f} s",
                retry_after=remaining,
            )

    def _failure(self, exc: Exception, key: str = "", reading: bool = True) -> StoreError:
        """Translates a botocore failure into one of ours; opens the breaker on a timeout
        or a connection that failed (an answer, even an error, closes it).

        A 404 is a missing photo when reading; when writing or listing, the endpoint is
        not the bucket it should be.
        """
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        where = self._where(key)
        if isinstance(exc, (BotoConnectionError, HTTPClientError)):
            self.breaker.failed()
            return StoreUnavailable(f"{where}: {exc}", retry_after=self.breaker.seconds)
        if isinstance(exc, ClientError):
            self.breaker.reset()  # it answered: slow down or refused, but not hung
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if reading and code in _NOT_FOUND_CODES:
                return PhotoNotFound(key)
            if code in _UNAVAILABLE_CODES or status >= 500:
                return StoreUnavailable(f"{where}: {code} {error.get('Message', '')}")
            return StoreMisconfigured(f"{where}: {code} {error.get('Message', '')}")
        return StoreError(f"{where}: {exc}")

    def put(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        checked_key(key)
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        # One PutObject is atomic: readers see the old object, or none, or all of it.
        self._call(
            lambda: self.writer.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, ContentMD5=md5
            ),
            key,
            reading=False,
        )

    def get(self, key: str) -> bytes:
        stream = self.open(key)
        try:
            return self._call(stream.read, key)  # the body may stall after the headers
        finally:
            stream.close()

    def open(self, key: str) -> BinaryIO:
        checked_key(key)
        found = self._call(lambda: self.client.get_object(Bucket=self.bucket, Key=key), key)
        return found["Body"]

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        checked_key(key)
        try:
            head = self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=key), key)
        except PhotoNotFound:
            return None
        return head["ContentLength"]

    def delete(self, key: str) -> None:
        checked_key(key)
        with contextlib.suppress(PhotoNotFound):  # erasing twice is no error
            self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=key), key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        pages = iter(
            self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
            )
        )
        while True:
            page = self._call(lambda: next(pages, None), reading=False)
            if page is None:
                return
            for item in page.get("Contents", []):
                yield item["Key"]

    def signed_url(self, key: str, expires: int = 300) -> str | None:
        checked_key(key)
        # Signed locally, no request: valid for `expires` seconds, for this key only.
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires
        )


def _setting(settings: Any, name: str, default: Any = None) -> Any:
    if settings is None:
        return default
    if isinstance(settings, Mapping):
        return settings.get(name, default)
    return getattr(settings, name, default)


def store_from(settings: Any = None, **overrides: Any) -> MediaStore:
    """Builds the configured store from settings (a mapping or an object) and overrides.

    MEDIA_STORAGE=local (default) keeps photos under MEDIA_DIR; MEDIA_STORAGE=s3 uses
    S3_ENDPOINT_URL, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION.
    """

    def value(name: str, default: Any = None) -> Any:
        return overrides.get(name, _setting(settings, name, default))

    kind = str(value("MEDIA_STORAGE", "local") or "local").lower()
    if kind == "local":
        return LocalStore(value("MEDIA_DIR", "instance/media"))
    if kind == "s3":
        return S3Store(
            endpoint_url=value("S3_ENDPOINT_URL"),
            bucket=value("S3_BUCKET"),
            access_key_id=value("S3_ACCESS_KEY_ID"),
            secret_access_key=value("S3_SECRET_ACCESS_KEY"),
            region=value("S3_REGION"),
        )
    raise StoreMisconfigured(f"MEDIA_STORAGE must be local or s3, not {kind!r}")


@dataclass
class Migration:
    """What migrate did: photos copied, already there (same size), deleted from the source."""

    copied: int = 0
    skipped: int = 0
    deleted: int = 0


def migrate(src: MediaStore, dst: MediaStore, delete_source: bool = False) -> Migration:
    """Copies every photo of src into dst; run again after a failure, it resumes.

    A photo already in dst with the same size is skipped (keys are content hashes, so
    the same key and size is the same picture). With delete_source, a photo leaves src
    only once dst holds it whole.
    """
    done = Migration()
    # Listed first: deleting while paginating a bucket may skip keys.
    for key in list(src.keys()):
        expected = src.size(key)
        if expected is None:
            continue  # deleted since the listing (erasure ran meanwhile)
        if dst.size(key) == expected:
            done.skipped += 1
        else:
            data = src.get(key)
            dst.put(key, data, content_type_of(key))
            if dst.size(key) != len(data):
                raise StoreError(f"{key}: {dst!r} does not hold the {len(data)} bytes copied")
            done.copied += 1
        if delete_source:
            src.delete(key)
            done.deleted += 1
    return done
