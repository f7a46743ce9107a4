import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from portal.errors import ServiceError
from portal.images import MAX_DIMENSION, clean_photo

LIMIT = 2 * 1024 * 1024


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _encoded(kind: str, size=(64, 48), mode="RGB", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "green").save(buffer, format=kind, **save)
    return buffer.getvalue()


def _upload(body: bytes, name="foto.jpg", content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type=content_type)


def _gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotated 90° clockwise
    exif[0x8825] = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 0.0)}  # GPS
    return exif.tobytes()


def test_clean_photo_accepts_jpeg_and_png():
    content, extension, digest = clean_photo(_upload(_encoded("JPEG")), max_bytes=LIMIT)
    assert extension == "jpg"
    data = content.read()
    assert Image.open(io.BytesIO(data)).format == "JPEG"
    assert digest == hashlib.sha256(data).hexdigest()
    content, extension, _digest = clean_photo(
        _upload(_encoded("PNG", mode="RGBA"), name="a.png", content_type="image/png"),
        max_bytes=LIMIT,
    )
    assert extension == "png"
    assert Image.open(io.BytesIO(content.read())).mode == "RGBA"


def test_clean_photo_judges_content_not_name():
    # A PNG named .jpg is stored as the PNG it is.
    _content, extension, _digest = clean_photo(
        _upload(_encoded("PNG"), name="foto.jpg"), max_bytes=LIMIT
    )
    assert extension == "png"


def test_clean_photo_removes_exif_and_keeps_the_photo_upright():
    body = _encoded("JPEG", size=(80, 40), exif=_gps_exif())
    assert Image.open(io.BytesIO(body)).getexif()  # the original carries the metadata
    content, _extension, _digest = clean_photo(_upload(body), max_bytes=LIMIT)
    data = content.read()
    stored = Image.open(io.BytesIO(data))
    assert len(stored.getexif()) == 0
    assert "exif" not in stored.info
    assert b"PhoneMaker" not in data
    assert stored.size == (40, 80)  # the orientation tag was applied to the pixels


def test_clean_photo_removes_png_text_chunks():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Budi, Jl. Kenanga 5")
    body = _encoded("PNG", pnginfo=info)
    content, _extension, _digest = clean_photo(
        _upload(body, name="a.png", content_type="image/png"), max_bytes=LIMIT
    )
    assert b"Kenanga" not in content.read()


def test_clean_photo_shrinks_huge_photos():
    body = _encoded("JPEG", size=(MAX_DIMENSION + 400, 100))
    content, _extension, _digest = clean_photo(_upload(body), max_bytes=10 * LIMIT)
    assert max(Image.open(io.BytesIO(content.read())).size) == MAX_DIMENSION


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (_encoded("GIF", mode="P"), "anim.gif"),
        (_encoded("GIF", mode="P"), "renamed.jpg"),
        (b"hello, I am a text file\n" * 10, "notes.jpg"),
        (b"%PDF-1.7\n%fake\n", "doc.png"),
        (_encoded("JPEG")[:60], "truncated.jpg"),
    ],
)
def test_clean_photo_refuses_anything_else(body, name):
    with pytest.raises(ServiceError) as error:
        clean_photo(_upload(body, name=name), max_bytes=LIMIT)
    assert error.value.field == "photo"
    assert error.value.message == "Only JPEG and PNG photos are accepted."


def test_clean_photo_refuses_too_big_and_empty():
    body = _encoded("PNG", size=(300, 300))
    with pytest.raises(ServiceError) as error:
        clean_photo(_upload(body, name="a.png"), max_bytes=len(body) - 1)
    assert error.value.field == "photo"
    assert "too large" in error.value.message
    with pytest.raises(ServiceError, match="empty"):
        clean_photo(_upload(b""), max_bytes=LIMIT)


def test_clean_photo_refuses_a_decompression_bomb():
    # A tiny file declaring an enormous canvas is refused before it is decoded.
    body = _encoded("PNG", size=(8000, 8000), mode="1")
    assert len(body) < LIMIT
    with pytest.raises(ServiceError) as error:
        clean_photo(_upload(body, name="bomb.png"), max_bytes=LIMIT)
    assert error.value.field == "photo"
