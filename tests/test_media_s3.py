"""Photos in an S3 bucket (MEDIA_STORAGE=s3), against a real SeaweedFS: a citizen's photo
goes to the bucket and never to the web node's disk, agents see it through the login,
erasure removes it, a bucket that is down loses nothing, a bucket that hangs holds no
web request for long, and `webleads media migrate` moves what is on disk."""

from __future__ import annotations

import io
import re
import time
import uuid
from pathlib import Path

import pytest

from app.cli import cli
from app.factory import create_app
from models.report import get_report, media_of_report
from services import moderation
from services.links import LINK_PATH, mint_token
from services.media import photo_store
from services.storage import BREAKER_SECONDS, READ_SECONDS, WRITE_SECONDS, LocalStore, S3Store
from tests.conftest import base_config
from tests.fakes.hung_bucket import HungBucket, ManualClock
from tests.helpers import TalkingCitizen, admin_id, jpeg_with_gps, log_in_as, run_jobs
from tests.telegram_support import (
    LOCATION_IN_TOWN,
    citizen_at,
    payload,
    post,
    telegram_config,
    text_update,
    with_ids,
)


def _bucket(seaweed) -> str:
    name = "media-" + uuid.uuid4().hex[:16]
    seaweed.admin.create_bucket(Bucket=name)
    return name


def s3_settings(seaweed, bucket: str) -> dict:
    return {
        "MEDIA_STORAGE": "s3",
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_BUCKET": bucket,
        "S3_ACCESS_KEY_ID": seaweed.access_key,
        "S3_SECRET_ACCESS_KEY": seaweed.secret_key,
        "S3_REGION": "us-east-1",
    }


@pytest.fixture
def s3_app(database_url, tmp_path, telegram, seaweed):
    bucket = _bucket(seaweed)
    config = {**base_config(database_url, tmp_path), **telegram_config(telegram)}
    app = create_app({**config, **s3_settings(seaweed, bucket)})
    app.bucket = S3Store(seaweed.endpoint_url, bucket, seaweed.access_key,
                         seaweed.secret_key, "us-east-1")  # fmt: skip
    yield app
    app.extensions["webleads"].db.dispose()


def send_photo(app, telegram, update_id: int, *, worker: bool = True):
    picture = jpeg_with_gps()
    telegram.add_file(f"pic-{update_id}", picture, f"photos/file_{update_id}.jpg")
    sizes = [{"file_id": f"pic-{update_id}", "file_unique_id": f"u{update_id}",
              "file_size": len(picture), "width": 640, "height": 480}]  # fmt: skip
    update = with_ids(payload("photo_with_caption", photo=sizes, caption=None), update_id, 40)
    return post(app.test_client(), update, worker=worker)


def disk_files(app) -> list[Path]:
    root = Path(app.extensions["webleads"].settings.MEDIA_DIR)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_photo_goes_to_the_bucket_and_agents_see_it_through_the_login(s3_app, telegram):
    rt = s3_app.extensions["webleads"]
    talker = citizen_at(rt, "photo")
    send_photo(s3_app, telegram, 700001)
    assert talker.state == "location"
    talker.say(location=LOCATION_IN_TOWN)
    number = int(re.search(r"#(\d+)", talker.texts(choice="yes")).group(1))
    keys = list(s3_app.bucket.keys())
    assert len(keys) == 1 and disk_files(s3_app) == []  # nothing on the web node's disk
    with rt.db.reading() as session:
        media = media_of_report(session, get_report(session, number).id)
    url = f"/console/media/{media[0].id}"
    anonymous = s3_app.test_client().get(url)
    assert anonymous.status_code in (302, 401)  # never a public bucket, never a public URL
    client = s3_app.test_client()
    log_in_as(client, admin_id(rt))
    shown = client.get(url)
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert shown.data == s3_app.bucket.get(keys[0])
    assert client.get(url, headers={"If-None-Match": shown.headers["ETag"]}).status_code == 304


def test_erasing_a_citizen_removes_their_unfiled_photo_from_the_bucket(s3_app, telegram):
    rt = s3_app.extensions["webleads"]
    talker = citizen_at(rt, "photo")
    send_photo(s3_app, telegram, 700101)
    assert len(list(s3_app.bucket.keys())) == 1
    talker.say("/supprimer")
    talker.say(choice="erase:yes")
    assert list(s3_app.bucket.keys()) == []


def test_a_bucket_that_is_down_loses_nothing_and_the_photo_comes_later(s3_app, telegram, seaweed):
    rt = s3_app.extensions["webleads"]
    photo_store(rt.settings).breaker.clock = clock = ManualClock()
    talker = citizen_at(rt, "photo")
    seaweed.stop()
    try:
        send_photo(s3_app, telegram, 700201)  # the worker's download cannot be stored
        assert talker.state == "photo"  # still waiting for its picture, nothing half-done
        assert media_rows(rt) == 0
    finally:
        seaweed.start()
    run_jobs_when_due(rt)  # the bucket is back, but its breaker still leaves it alone
    assert talker.state == "photo" and media_rows(rt) == 0
    clock.advance(BREAKER_SECONDS)
    run_jobs_when_due(rt)
    assert talker.state == "location"
    assert len(list(s3_app.bucket.keys())) == 1


def media_rows(rt) -> int:
    from sqlalchemy import func, select

    from models.report import Media

    with rt.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Media))


def run_jobs_when_due(rt) -> None:
    """The job's retry is due after its backoff: make it due now, as time would."""
    from sqlalchemy import update

    from models.db import utcnow
    from models.jobs import Job

    with rt.db.transaction() as session:
        session.execute(update(Job).where(Job.done_at.is_(None)).values(next_attempt_at=utcnow()))
    run_jobs(rt)


@pytest.fixture
def hung_app(database_url, tmp_path, telegram, seaweed):
    """The app on a bucket reached through a port that can hang (tests/fakes/hung_bucket)."""
    with HungBucket() as way:
        way.heal(seaweed.endpoint_url)
        settings = {**s3_settings(seaweed, _bucket(seaweed)), "S3_ENDPOINT_URL": way.endpoint_url}
        config = {**base_config(database_url, tmp_path), **telegram_config(telegram)}
        app = create_app({**config, **settings})
        app.way = way
        yield app
        app.extensions["webleads"].db.dispose()


# "At once": well under the READ_SECONDS a request waiting on the bucket would take, with
# room for a busy machine (the same requests take a few milliseconds alone).
AT_ONCE = READ_SECONDS / 2


def timed(call):
    """What the call answered, and how many seconds it took."""
    began = time.monotonic()
    answer = call()
    return answer, time.monotonic() - began


def public_photo(app, telegram) -> tuple[int, str]:
    """A report filed from Telegram with a photo, the photo approved: (number, its URL)."""
    rt = app.extensions["webleads"]
    talker = citizen_at(rt, "photo")
    send_photo(app, telegram, 700301)
    talker.say(location=LOCATION_IN_TOWN)
    number = int(re.search(r"#(\d+)", talker.texts(choice="yes")).group(1))
    with rt.db.transaction() as session:
        (media,) = media_of_report(session, get_report(session, number).id)
        moderation.approve_photo(session, number, media.id, approved=True, agent_id=None)
    return number, f"/reports/{number}/photos/{media.id}"


def test_a_hung_bucket_holds_a_request_seconds_once_then_the_site_answers_at_once(
    hung_app, telegram, seaweed
):
    """A bucket that accepts connections and never answers: the first public photo request
    gives up after READ_SECONDS (it took 20 s), the next ones answer 503 at once, for
    BREAKER_SECONDS, and the console, the report's page and a webhook keep answering;
    then the bucket, healthy again, serves the photo."""
    rt = hung_app.extensions["webleads"]
    photo_store(rt.settings).breaker.clock = clock = ManualClock()
    number, url = public_photo(hung_app, telegram)
    anyone, agent = hung_app.test_client(), hung_app.test_client()
    log_in_as(agent, admin_id(rt))
    served = anyone.get(url)
    assert served.status_code == 200 and served.headers["Cache-Control"] == "public, max-age=3600"

    hung_app.way.hang()
    first, seconds = timed(lambda: anyone.get(url))
    assert first.status_code == 503 and seconds < READ_SECONDS + 2
    assert first.headers["Retry-After"] == str(int(BREAKER_SECONDS))
    asked = hung_app.way.connections
    # As many requests as gunicorn has workers on 4 cores (2 x cores + 1): none waits.
    burst = [timed(lambda: anyone.get(url)) for _ in range(9)]
    assert max(seconds for _, seconds in burst) < AT_ONCE and hung_app.way.connections == asked
    assert {r.status_code for r, _ in burst} == {503}
    assert all(0 < int(r.headers["Retry-After"]) <= BREAKER_SECONDS for r, _ in burst)
    # A browser's (or nginx's) revalidation needs no bucket: the key is the photo's hash.
    etag = served.headers["ETag"]
    assert anyone.get(url, headers={"If-None-Match": etag}).status_code == 304
    page, seconds = timed(lambda: anyone.get(f"/reports/{number}"))
    assert page.status_code == 200 and url in page.get_data(as_text=True) and seconds < AT_ONCE
    console, seconds = timed(lambda: agent.get(f"/console/reports/{number}"))
    assert console.status_code == 200 and seconds < AT_ONCE
    hook, seconds = timed(lambda: post(anyone, text_update("bonjour", 700302), worker=False))
    assert hook.status_code == 200 and seconds < AT_ONCE
    photo_hook, seconds = timed(lambda: send_photo(hung_app, telegram, 700303, worker=False))
    assert photo_hook.status_code == 200 and seconds < AT_ONCE  # stored by the worker, later

    hung_app.way.heal(seaweed.endpoint_url)
    clock.advance(BREAKER_SECONDS)
    again = anyone.get(url)
    assert again.status_code == 200 and again.data == served.data


def test_on_a_hung_bucket_the_link_page_asks_for_the_photo_again_within_seconds(hung_app, seaweed):
    """The SMS citizens' page keeps a photo inside the web request (a HEAD, then a PUT):
    on a hung bucket it gave up after 20 s, near gunicorn's 35. The page now keeps the
    raw upload (one write: WRITE_SECONDS) and the worker decodes it; on a hung bucket it
    gives up within that, and the link still works once the bucket is back."""
    rt = hung_app.extensions["webleads"]
    photo_store(rt.settings).breaker.clock = clock = ManualClock()
    paul = TalkingCitizen(rt, "paul", name="Paul")
    number = paul.file_report()
    path = LINK_PATH + mint_token(rt.settings.SECRET_KEY, number, paul.citizen.id)
    client = hung_app.test_client()

    def send_photo_on_the_page():
        photo = (io.BytesIO(jpeg_with_gps()), "photo.jpg", "image/jpeg")
        return client.post(path, data={"photo": photo}, content_type="multipart/form-data")

    hung_app.way.hang()
    refused, seconds = timed(send_photo_on_the_page)
    assert refused.status_code == 503 and seconds < WRITE_SECONDS + 2
    assert "rien n’est perdu" in refused.get_data(as_text=True)
    hung_app.way.heal(seaweed.endpoint_url)
    clock.advance(BREAKER_SECONDS)
    assert send_photo_on_the_page().status_code == 200
    run_jobs(rt)  # the worker decodes what the page kept
    with rt.db.reading() as session:
        assert len(media_of_report(session, get_report(session, number).id)) == 1


def test_media_migrate_moves_the_photos_on_disk_into_the_bucket(s3_app):
    rt = s3_app.extensions["webleads"]
    local = LocalStore(rt.settings.MEDIA_DIR)
    from services.media import store_photo

    # Photos a deployment kept on disk before it set MEDIA_STORAGE=s3.
    stored = [store_photo(jpeg_with_gps(320 + i, 240), rt.settings.MEDIA_DIR) for i in range(3)]
    runner = s3_app.test_cli_runner()
    result = runner.invoke(cli, ["media", "migrate", "--to", "s3"])
    assert result.exit_code == 0, result.output
    assert "3 photo(s) copied" in result.output
    assert sorted(s3_app.bucket.keys()) == sorted(p.path for p in stored)
    assert all(s3_app.bucket.get(p.path) == local.get(p.path) for p in stored)
    again = runner.invoke(cli, ["media", "migrate", "--to", "s3"])
    assert "0 photo(s) copied, 3 already there" in again.output
