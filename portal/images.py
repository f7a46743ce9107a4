"""Uploaded photos (ticket evidence): JPEG or PNG by content, re-encoded so nothing but pixels
survives.

A phone photo carries EXIF: the GPS position of whoever took it, the device, the time. The
evidence is shown to officers and partners, so the original bytes are never stored: the image is
decoded, turned upright, shrunk if huge, and encoded again without any metadata.
"""

import hashlib
import io

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.errors import ServiceError

# Longest side kept; a larger photo is scaled down (evidence needs detail, not 50 MP).
MAX_DIMENSION = 4096
# Refused before decoding: a small file can declare a huge canvas (a "decompression bomb").
MAX_PIXELS = 60_000_000
_FORMATS = {"JPEG": "jpg", "PNG": "png"}


def _refuse(message: str) -> ServiceError:
    return ServiceError(message, field="photo")


def clean_photo(upload: UploadedFile, *, max_bytes: int) -> tuple[ContentFile, str, str]:
    """(re-encoded file, extension "jpg"/"png", SHA-256 of the stored bytes) of an uploaded photo.

    Refuses an empty or too large upload and anything that is not a JPEG or PNG by its content,
    whatever its name says.
    """
    if not upload.size:
        raise _refuse(_("The photo is empty."))
    if upload.size > max_bytes:
        raise _refuse(
            _("The photo is too large: at most %(mb)s MB.") % {"mb": f"{max_bytes / 1048576:g}"}
        )
    upload.seek(0)
    try:
        image = Image.open(upload, formats=list(_FORMATS))
        kind = image.format
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise _refuse(_("The photo has too many pixels."))
        image.load()
    except ServiceError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise _refuse(_("Only JPEG and PNG photos are accepted.")) from None
    finally:
        upload.seek(0)

    # The EXIF orientation is about to be dropped: apply it to the pixels first.
    image = ImageOps.exif_transpose(image)
    if max(image.size) > MAX_DIMENSION:
        image.thumbnail((MAX_DIMENSION, MAX_DIMENSION))
    if kind == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    # Nothing from the original file (EXIF, XMP, ICC, text chunks, comments) is written back.
    image.info = {}
    buffer = io.BytesIO()
    if kind == "JPEG":
        image.save(buffer, format="JPEG", quality=85, optimize=True)
    else:
        image.save(buffer, format="PNG", optimize=True)
    data = buffer.getvalue()
    extension = _FORMATS[kind]
    return ContentFile(data, name=f"photo.{extension}"), extension, hashlib.sha256(data).hexdigest()
