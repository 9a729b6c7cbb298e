"""The photo stores, on disk and on a real SeaweedFS bucket, through the same tests."""

from __future__ import annotations

import http.server
import importlib
import io
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from PIL import Image

from services.storage import (
    BREAKER_SECONDS,
    READ_SECONDS,
    BadKey,
    LocalStore,
    MediaStore,
    Migration,
    PhotoNotFound,
    S3Store,
    StoreMisconfigured,
    StoreUnavailable,
    migrate,
    store_from,
)
from tests.fakes.hung_bucket import HungBucket, ManualClock
from tests.seaweed import SeaweedS3

KEY = "ab/" + "ab" * 32 + ".jpg"


def new_bucket(seaweed: SeaweedS3) -> str:
    name = "t-" + uuid.uuid4().hex[:20]
    seaweed.admin.create_bucket(Bucket=name)
    return name


def s3_store(seaweed: SeaweedS3, **options) -> S3Store:
    """A store on a bucket of its own, so listings see only this test's photos."""
    return S3Store(
        seaweed.endpoint_url,
        new_bucket(seaweed),
        seaweed.access_key,
        seaweed.secret_key,
        "us-east-1",
        **options,
    )


@pytest.fixture(params=["local", "s3"])
def make_store(request, tmp_path):
    """Builds a fresh, empty store of each kind; options go to S3Store."""

    def make(**options) -> MediaStore:
        if request.param == "local":
            return LocalStore(tmp_path / f"media-{uuid.uuid4().hex[:8]}")
        return s3_store(request.getfixturevalue("seaweed"), **options)

    return make


def photo_bytes(seed: int = 0) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, 80, 160)).save(out, format="JPEG")
    return out.getvalue() + seed.to_bytes(4, "big")  # distinct even when colours repeat


def test_stores_follow_the_protocol(make_store):
    assert isinstance(make_store(), MediaStore)


def test_put_get_exists_delete(make_store):
    store = make_store()
    data = photo_bytes()
    assert not store.exists(KEY)
    store.put(KEY, data, "image/jpeg")
    assert store.exists(KEY)
    assert store.size(KEY) == len(data)
    assert store.get(KEY) == data
    with store.open(KEY) as stream:
        assert stream.read() == data
    store.delete(KEY)
    assert not store.exists(KEY)
    assert store.size(KEY) is None
    store.delete(KEY)  # erasing twice (a retried erasure) is not an error
    with pytest.raises(PhotoNotFound):
        store.get(KEY)
    with pytest.raises(PhotoNotFound):
        store.open(KEY)


def test_put_again_replaces_the_whole_photo(make_store):
    store = make_store()
    store.put(KEY, b"x" * 10_000)
    store.put(KEY, b"short")
    assert store.get(KEY) == b"short"


@pytest.mark.parametrize("key", ["../escape.jpg", "/etc/passwd", "ab//c.jpg", "", "ab/../c"])
def test_keys_that_are_not_plain_paths_are_refused(make_store, key, tmp_path):
    store = make_store()
    with pytest.raises(BadKey):
        store.put(key, b"data")
    with pytest.raises(BadKey):
        store.get(key)
    assert not (tmp_path / "escape.jpg").exists()


def test_keys_lists_every_photo_across_pages(make_store):
    store = make_store(page_size=7)
    expected = {f"{p}/{i:03d}.jpg" for p in ("0a", "1b", "2c") for i in range(9)}
    for key in expected:
        store.put(key, b"x")
    assert set(store.keys()) == expected
    assert set(store.keys("1b/")) == {k for k in expected if k.startswith("1b/")}
    assert list(store.keys("zz/")) == []


def test_local_store_reads_photos_the_intake_wrote(tmp_path):
    media = None
    for name in ("services.media", "webhooks.media"):  # the lead is moving it
        try:
            media = importlib.import_module(name)
            break
        except ModuleNotFoundError:
            continue
    assert media is not None, "store_photo not found in services.media nor webhooks.media"
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, format="PNG")
    photo = media.store_photo(out.getvalue(), tmp_path)
    store = LocalStore(tmp_path)
    assert store.get(photo.path) == (tmp_path / photo.path).read_bytes()
    assert list(store.keys()) == [photo.path]
    store.delete(photo.path)
    assert not (tmp_path / photo.path).exists()


def test_local_listing_skips_files_a_crash_left_half_written(tmp_path):
    store = LocalStore(tmp_path)
    store.put(KEY, b"whole")
    folder = tmp_path / "ab"
    (folder / ".tmp-k3j2h1").write_bytes(b"ha")  # our own temp name
    (folder / "tmpa1b2c3d4").write_bytes(b"lf")  # NamedTemporaryFile's, from the old intake
    assert list(store.keys()) == [KEY]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [".tmp-k3j2h1", "tmpa1b2c3d4", KEY.split("/")[1]]
    )


def test_local_store_has_no_signed_url(tmp_path):
    store = LocalStore(tmp_path)
    store.put(KEY, b"x")
    assert store.signed_url(KEY) is None


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def test_signed_url_serves_the_photo_until_it_expires(seaweed):
    store = s3_store(seaweed)
    data = photo_bytes(1)
    store.put(KEY, data, "image/jpeg")
    status, body, content_type = fetch(store.signed_url(KEY, expires=300))
    assert (status, body, content_type) == (200, data, "image/jpeg")
    short = store.signed_url(KEY, expires=1)
    time.sleep(2.1)
    status, body, _ = fetch(short)
    assert status == 403
    assert b"expired" in body.lower()


def test_bucket_refuses_unsigned_and_forged_urls(seaweed):
    store = s3_store(seaweed)
    other = "cd/" + "cd" * 32 + ".jpg"
    store.put(KEY, b"private")
    store.put(other, b"someone else's")
    url = store.signed_url(KEY)
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    signature = query["X-Amz-Signature"]
    forged = {**query, "X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]}
    cases = {
        "unsigned": parts._replace(query="").geturl(),
        "forged signature": parts._replace(query=urllib.parse.urlencode(forged)).geturl(),
        "another key": url.replace(KEY, other),
        "longer life": parts._replace(
            query=urllib.parse.urlencode({**query, "X-Amz-Expires": "604800"})
        ).geturl(),
    }
    for label, bad in cases.items():
        status, body, _ = fetch(bad)
        assert status == 403, label
        assert b"private" not in body and b"someone" not in body, label
    assert fetch(url)[:2] == (200, b"private")


def test_bucket_out_of_reach_fails_fast_then_recovers(seaweed):
    store = s3_store(seaweed)
    store.breaker.clock = clock = ManualClock()
    store.put(KEY, b"kept")
    late = "ef/" + "ef" * 32 + ".jpg"
    seaweed.stop()
    try:
        operations = {
            "put": lambda: store.put(late, b"never half written"),
            "get": lambda: store.get(KEY),
            "open": lambda: store.open(KEY),
            "exists": lambda: store.exists(KEY),
            "delete": lambda: store.delete(KEY),
            "keys": lambda: list(store.keys()),
        }
        for label, operation in operations.items():
            began = time.monotonic()
            with pytest.raises(StoreUnavailable):
                operation()
            assert time.monotonic() - began < 5, label
    finally:
        seaweed.start()
    with pytest.raises(StoreUnavailable, match="recently"):
        store.get(KEY)  # back, but the breaker leaves it alone for a while
    clock.advance(BREAKER_SECONDS)
    assert store.get(KEY) == b"kept"
    assert not store.exists(late)
    store.put(late, b"retried")
    assert store.get(late) == b"retried"


@pytest.fixture
def hung_bucket():
    with HungBucket() as bucket:
        yield bucket


def test_a_bucket_that_never_answers_costs_one_short_wait_then_none(hung_bucket, seaweed):
    """A bucket that accepts connections and never answers: the first read gives up after
    READ_SECONDS, once; then every call, reads and writes alike, fails at once until the
    breaker's seconds have passed, when the bucket (healed) is asked again."""
    store = S3Store(hung_bucket.endpoint_url, seaweed.bucket, seaweed.access_key,
                    seaweed.secret_key)  # fmt: skip
    store.breaker.clock = clock = ManualClock()
    began = time.monotonic()
    with pytest.raises(StoreUnavailable) as failed:
        store.get(KEY)
    assert READ_SECONDS - 0.5 < time.monotonic() - began < READ_SECONDS + 2  # one attempt
    assert failed.value.retry_after == BREAKER_SECONDS
    asked = hung_bucket.connections
    began = time.monotonic()
    calls = [lambda: store.get(KEY), lambda: store.exists(KEY), lambda: list(store.keys())]
    for operation in [*calls, lambda: store.put(KEY, b"kept later")]:
        with pytest.raises(StoreUnavailable, match="recently") as failed:
            operation()
        assert 0 < failed.value.retry_after <= BREAKER_SECONDS
    assert time.monotonic() - began < 0.5 and hung_bucket.connections == asked
    hung_bucket.heal(seaweed.endpoint_url)
    clock.advance(BREAKER_SECONDS - 1)
    with pytest.raises(StoreUnavailable, match="recently"):
        store.put(KEY, b"kept later")
    clock.advance(1)
    store.put(KEY, b"kept later")
    assert store.get(KEY) == b"kept later"


def test_unreachable_host_times_out_quickly():
    # A port nobody listens on: refused at once, whatever the retries.
    store = S3Store("http://127.0.0.1:9", "photos", "k", "s", connect_timeout=1)
    began = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.put(KEY, b"x")
    assert time.monotonic() - began < 5


@pytest.fixture
def answering():
    """An HTTP server on loopback that is not a bucket: it answers every request `status`."""
    servers = []

    def start(status: int) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_PUT = do_HEAD = do_DELETE = _answer

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, StoreUnavailable), (500, StoreUnavailable), (404, StoreMisconfigured)],
)
def test_an_endpoint_that_is_not_a_working_bucket(answering, status, error):
    store = S3Store(answering(status), "photos", "k", "s")
    began = time.monotonic()
    with pytest.raises(error):
        store.put(KEY, b"x")
    with pytest.raises(error):
        list(store.keys())
    assert time.monotonic() - began < 5


def test_wrong_keys_or_bucket_are_misconfiguration_not_an_outage(seaweed):
    wrong_secret = S3Store(seaweed.endpoint_url, seaweed.bucket, seaweed.access_key, "nope")
    with pytest.raises(StoreMisconfigured):
        wrong_secret.put(KEY, b"x")
    missing = S3Store(
        seaweed.endpoint_url, "no-such-bucket-here", seaweed.access_key, seaweed.secret_key
    )
    with pytest.raises(StoreMisconfigured):
        missing.put(KEY, b"x")


def contents(store: MediaStore) -> dict[str, bytes]:
    return {key: store.get(key) for key in store.keys("")}


def test_migrate_to_the_bucket_and_back(seaweed, tmp_path):
    local = LocalStore(tmp_path / "before")
    photos = {f"{i:02x}/{i:064x}.jpg": photo_bytes(i) for i in range(12)}
    for key, data in photos.items():
        local.put(key, data)
    bucket = s3_store(seaweed, page_size=5)

    assert migrate(local, bucket) == Migration(copied=12)
    assert migrate(local, bucket) == Migration(skipped=12)  # run again: nothing to do
    assert contents(bucket) == photos
    assert fetch(bucket.signed_url(next(iter(photos))))[2] == "image/jpeg"

    back = LocalStore(tmp_path / "after")
    first, second = list(photos)[:2]
    back.put(first, photos[first])  # a run interrupted after one photo...
    back.put(second, photos[second][:10])  # ...and in the middle of the next
    assert migrate(bucket, back, delete_source=True) == Migration(copied=11, skipped=1, deleted=12)
    assert contents(back) == photos
    assert list(bucket.keys()) == []
    assert local.get(first) == photos[first]  # the source of the first run is untouched


@dataclass
class Settings:
    MEDIA_STORAGE: str = "local"
    MEDIA_DIR: str = "instance/media"
    S3_ENDPOINT_URL: str | None = None
    S3_BUCKET: str | None = None
    S3_ACCESS_KEY_ID: str | None = None
    S3_SECRET_ACCESS_KEY: str | None = None
    S3_REGION: str | None = None


def test_store_from_settings(seaweed, tmp_path):
    local = store_from(Settings(MEDIA_DIR=str(tmp_path)))
    assert isinstance(local, LocalStore)
    assert local.root == tmp_path
    assert isinstance(store_from({}), LocalStore)
    s3 = {
        "MEDIA_STORAGE": "s3",
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_BUCKET": seaweed.bucket,
        "S3_ACCESS_KEY_ID": seaweed.access_key,
        "S3_SECRET_ACCESS_KEY": seaweed.secret_key,
    }
    for settings in (s3, SimpleNamespace(**s3), Settings(**s3)):
        store = store_from(settings)
        store.put(KEY, b"configured")
        assert store_from(settings).get(KEY) == b"configured"
    assert isinstance(store_from(Settings(), MEDIA_STORAGE="s3", S3_BUCKET="b"), S3Store)
    with pytest.raises(StoreMisconfigured):
        store_from({"MEDIA_STORAGE": "s3"})  # no bucket
    with pytest.raises(StoreMisconfigured):
        store_from({"MEDIA_STORAGE": "ftp"})
