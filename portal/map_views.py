"""The city map's JSON: cameras (packed, gzip, cached per sweep), their status, open requests.

Public: positions and health states only (see portal/map_selectors.py). The gzip bytes are built
once per version and kept in Django's cache; a client that does not accept gzip gets them
decompressed. ETags follow the version, so a browser polling every minute mostly gets a 304.
"""

import gzip
import hashlib
import json

from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_safe

from portal import map_selectors

# Old versions are never read again: they only need to outlive a sweep interval or two.
PAYLOAD_CACHE_SECONDS = 3600
# Browsers and proxies may reuse an answer this long; after that the ETag makes it a 304.
MAX_AGE = 30
REQUESTS_CACHE_SECONDS = 60


def _accepts_gzip(request) -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        coding, _sep, params = part.strip().partition(";")
        if coding.strip().lower() not in {"gzip", "*"}:
            continue
        quality = params.strip().lower()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def _compress(data: dict) -> bytes:
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    # mtime=0: the same payload gives the same bytes, whichever process built it.
    return gzip.compress(raw, compresslevel=6, mtime=0)


def cached_gzip(key: str, build) -> bytes:
    """The gzip bytes under `key`, built (and cached) on a miss."""
    body = cache.get(key)
    if body is None:
        body = _compress(build())
        cache.set(key, body, PAYLOAD_CACHE_SECONDS)
    return body


def _matches(request, etag: str) -> bool:
    asked = request.headers.get("If-None-Match", "")
    if asked.strip() == "*":
        return True
    tags = {tag.strip().removeprefix("W/") for tag in asked.split(",")}
    return etag in tags


def _send(request, *, body: bytes, tag: str, private: bool = False) -> HttpResponse:
    """Answer with gzip or plain JSON per Accept-Encoding; 304 when the client has it already."""
    use_gzip = _accepts_gzip(request)
    # Each encoding is its own representation, so each has its own strong ETag.
    etag = f'"{tag}{"-gz" if use_gzip else ""}"'
    if _matches(request, etag):
        response = HttpResponseNotModified()
    elif use_gzip:
        response = HttpResponse(body, content_type="application/json")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(gzip.decompress(body), content_type="application/json")
    response["ETag"] = etag
    patch_vary_headers(response, ["Accept-Encoding"])
    if private:
        patch_cache_control(response, private=True, max_age=MAX_AGE)
    else:
        patch_cache_control(response, public=True, max_age=MAX_AGE)
    return response


@require_safe
def map_cameras(request):
    """Every camera on an active site: packed positions and status (see map_selectors)."""
    variant = map_selectors.map_variant(request.user)
    version = map_selectors.map_version()
    body = cached_gzip(
        f"map:cameras:{variant}:{version['version']}",
        lambda: map_selectors.camera_payload(variant=variant, version=version),
    )
    return _send(
        request,
        body=body,
        tag=f"cameras-{variant}-{version['version']}",
        private=variant != map_selectors.PUBLIC,
    )


@require_safe
def map_status(request):
    """The status string alone, for the map's refresh every minute."""
    version = map_selectors.map_version()
    body = cached_gzip(
        f"map:status:{version['version']}",
        lambda: map_selectors.status_payload(version=version),
    )
    return _send(request, body=body, tag=f"status-{version['version']}")


@require_safe
def map_requests(request):
    """Open, verified coverage requests at public (coarse) points; no personal data."""
    cached = cache.get("map:requests")
    if cached is None:
        body = _compress(map_selectors.request_payload())
        cached = (hashlib.sha256(body).hexdigest()[:20], body)
        cache.set("map:requests", cached, REQUESTS_CACHE_SECONDS)
    tag, body = cached
    return _send(request, body=body, tag=f"requests-{tag}")
