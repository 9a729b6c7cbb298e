"""Photos: real JPEG/PNG bytes in, a clean JPEG without EXIF out; bad bytes refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.media import MAX_PHOTO_BYTES, PhotoError, media_path, store_photo
from tests.helpers import jpeg_with_gps


def test_jpeg_is_stored_without_exif(tmp_path) -> None:
    data = jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get(0x8825)  # the original has GPS
    photo = store_photo(data, tmp_path)
    stored = Image.open(tmp_path / photo.path)
    assert stored.format == "JPEG" and (stored.width, stored.height) == (640, 480)
    assert len(stored.getexif()) == 0
    assert photo.size == (tmp_path / photo.path).stat().st_size


def test_same_picture_twice_is_stored_once(tmp_path) -> None:
    data = jpeg_with_gps()
    assert store_photo(data, tmp_path).path == store_photo(data, tmp_path).path
    assert len(list(tmp_path.rglob("*.jpg"))) == 1


def test_png_with_transparency_becomes_jpeg(tmp_path) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(out, format="PNG")
    photo = store_photo(out.getvalue(), tmp_path)
    assert photo.content_type == "image/jpeg" and (photo.width, photo.height) == (50, 40)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4 not a picture", "not_image"),
        (b"", "not_image"),
        (jpeg_with_gps()[:200], "not_image"),  # truncated
        (b"GIF89a" + b"\x00" * 100, "not_image"),
        (b"\xff" * (MAX_PHOTO_BYTES + 1), "too_big"),
    ],
    ids=["pdf", "empty", "truncated-jpeg", "broken-gif", "30MB"],
)
def test_what_is_not_a_picture_is_refused(tmp_path, data, reason) -> None:
    with pytest.raises(PhotoError) as excinfo:
        store_photo(data, tmp_path)
    assert excinfo.value.reason == reason
    assert not list(tmp_path.rglob("*.jpg"))


def test_huge_picture_is_scaled_down(tmp_path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (6000, 3000), "blue").save(out, format="JPEG")
    photo = store_photo(out.getvalue(), tmp_path)
    assert (photo.width, photo.height) == (4096, 2048)


def test_media_path_stays_inside_media_dir(tmp_path) -> None:
    assert media_path(tmp_path, "ab/x.jpg") == (tmp_path / "ab/x.jpg").resolve()
    with pytest.raises(PhotoError):
        media_path(tmp_path, "../../etc/passwd")
