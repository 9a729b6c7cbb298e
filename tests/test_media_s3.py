"""Photos in an S3 bucket (MEDIA_STORAGE=s3), against a real SeaweedFS: a citizen's photo
goes to the bucket and never to the web node's disk, agents see it through the login,
erasure removes it, a bucket that is down loses nothing, and `webleads media migrate`
moves what is on disk."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from bot.app import create_app
from bot.cli import cli
from models.report import get_report, media_of_report
from services.storage import LocalStore, S3Store
from tests.conftest import base_config
from tests.helpers import admin_id, jpeg_with_gps, log_in_as, run_jobs
from tests.telegram_support import (
    LOCATION_IN_TOWN,
    citizen_at,
    payload,
    post,
    telegram_config,
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


def send_photo(app, telegram, update_id: int) -> None:
    picture = jpeg_with_gps()
    telegram.add_file(f"pic-{update_id}", picture, f"photos/file_{update_id}.jpg")
    sizes = [{"file_id": f"pic-{update_id}", "file_unique_id": f"u{update_id}",
              "file_size": len(picture), "width": 640, "height": 480}]  # fmt: skip
    update = with_ids(payload("photo_with_caption", photo=sizes, caption=None), update_id, 40)
    post(app.test_client(), update)


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
    talker = citizen_at(rt, "photo")
    seaweed.stop()
    try:
        send_photo(s3_app, telegram, 700201)  # the worker's download cannot be stored
        assert talker.state == "photo"  # still waiting for its picture, nothing half-done
        assert media_rows(rt) == 0
    finally:
        seaweed.start()
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
