"""Uploaded PDFs (partner documents, application attachments): one set of checks, one way to store.

The file goes to the private storage (settings.PRIVATE_MEDIA_ROOT) under a random name chosen by
the model's upload_to; the uploader's name is kept only, sanitised, for display.
"""

import hashlib
import re

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from portal.errors import ServiceError, full_clean_or_raise

PDF_MAGIC = b"%PDF-"
_SAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_display_name(name: str) -> str:
    """The uploader's file name, kept only for display: no path, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _SAFE_NAME.sub("_", base).strip(" .")[:120]
    return cleaned or "document.pdf"


def read_pdf(upload: UploadedFile) -> tuple[str, str]:
    """(display name, SHA-256) of an uploaded PDF; refuses a wrong name, size or content."""
    name = safe_display_name(upload.name or "")
    if not name.lower().endswith(".pdf"):
        raise ServiceError(
            _("Only PDF files are accepted (the name must end in .pdf)."), field="file"
        )
    if upload.size is None or upload.size == 0:
        raise ServiceError(_("The file is empty."), field="file")
    if upload.size > settings.MAX_DOCUMENT_BYTES:
        raise ServiceError(
            _("The file is too large: at most %(mb)s MB.")
            % {"mb": f"{settings.MAX_DOCUMENT_BYTES / (1024 * 1024):g}"},
            field="file",
        )
    upload.seek(0)
    if upload.read(len(PDF_MAGIC)) != PDF_MAGIC:
        raise ServiceError(_("The file is not a PDF document."), field="file")
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return name, digest.hexdigest()


def store_pdf(*, record, upload: UploadedFile):
    """Check `upload`, then save it and `record` (a portal.models.StoredPdf) together."""
    record.original_name, record.sha256 = read_pdf(upload)
    record.size = upload.size
    full_clean_or_raise(record, exclude=["file"])
    record.file.save("upload.pdf", upload, save=False)
    try:
        with transaction.atomic():
            record.save()
    except Exception:
        # The row was not written: do not leave an orphan file behind.
        record.file.delete(save=False)
        raise
    return record
