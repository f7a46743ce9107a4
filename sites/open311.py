"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2/) for coverage requests.

Civic apps that already speak Open311 can list our request types, file a request and follow it.
Plain Django views: the format comes from the URL suffix (.json or .xml), XML is built from the
same dicts as JSON (the spec's "Spark convention"), and every error is the spec's array of
{code, description} with the HTTP status.

Where we part from common Open311 practice, and why:
- Services are of type "batch": a request counts only once its email address is confirmed, so
  POST answers with a token; tokens/{token} gives the service_request_id (the REQ reference) once
  confirmed.
- A pin (lat and long), an email and a description are required; address_string or address_id
  alone cannot be placed on the map, and the email is how the resident confirms. A phone alone is
  refused (no SMS verification yet); a phone sent with an email is not stored. first_name and
  last_name become the requester's name (personal data, purged after closure like the web form's).
- The privacy notice must be accepted: the required attribute[consent]=yes.
- media_url is refused: fetching arbitrary URLs from the server is unsafe, and a photo may show a
  person. No api_key is needed (email confirmation and rate limits keep abuse out); api_key,
  device_id and account_id are accepted and ignored (nothing is stored).
- Responses never carry personal data: description is always empty (residents' free text is not
  published), media_url is always empty, and the location is rounded to 3 decimals (about 110 m).
"""

import datetime as dt
import functools
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt

from portal import ratelimit
from portal.errors import ServiceError
from portal.ratelimit import Limit, RateLimited, client_ip
from sites import request_selectors, request_services
from sites.models import (
    CLOSED_REQUEST_STATUSES,
    OPEN_REQUEST_STATUSES,
    CoverageRequest,
    RequestCategory,
    RequestStatus,
)

AGENCY = "Diskominfotik DKI Jakarta"
# Bumped when the service list or a service definition changes (discovery's "changeset").
CHANGESET = "2026-12-01T00:00:00+07:00"
MAX_RESULTS = 1000
MAX_SPAN = dt.timedelta(days=90)

# Open311 "open": reported and not yet resolved. An installed camera stays open until the
# requester confirms it works.
STATUS_GROUPS = {
    "open": {*OPEN_REQUEST_STATUSES, RequestStatus.INSTALLED},
    "closed": set(CLOSED_REQUEST_STATUSES),
}

# Keywords are search terms in both languages on purpose, so they are not translated.
SERVICES = {
    RequestCategory.THEFT: {
        "description": gettext_lazy("A camera where theft, burglary or snatching happens."),
        "keywords": "theft, robbery, snatching, pencurian, maling, jambret, begal",
        "group": "crime",
    },
    RequestCategory.VIOLENCE: {
        "description": gettext_lazy("A camera where fights, assaults or brawls happen."),
        "keywords": "violence, assault, fight, kekerasan, penganiayaan, tawuran",
        "group": "crime",
    },
    RequestCategory.SEXUAL_VIOLENCE: {
        "description": gettext_lazy("A camera where harassment or sexual violence happens."),
        "keywords": "sexual violence, harassment, kekerasan seksual, pelecehan",
        "group": "crime",
    },
    RequestCategory.VANDALISM: {
        "description": gettext_lazy("A camera where public property is damaged or defaced."),
        "keywords": "vandalism, graffiti, damage, vandalisme, perusakan, coretan",
        "group": "crime",
    },
    RequestCategory.TRAFFIC: {
        "description": gettext_lazy("A camera where accidents or dangerous traffic happen."),
        "keywords": "traffic, accident, crossing, lalu lintas, kecelakaan, persimpangan",
        "group": "traffic",
    },
    RequestCategory.OTHER: {
        "description": gettext_lazy("A camera for another safety concern."),
        "keywords": "other, safety, lainnya, keamanan",
        "group": "other",
    },
}

# Nested lists in XML: the element name of each item, per the spec.
_XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
# Service field names as Open311 spells them, for error descriptions.
_OPEN311_FIELDS = {
    "category": "service_code",
    "lon": "long",
    "contact": "email",
    "name": "first_name and last_name",
    "consent": "attribute[consent]",
}
_TOKEN_SALT = "sites.open311.token"


class Open311Error(Exception):
    """An answer in the spec's error format: HTTP status and one or more descriptions."""

    def __init__(self, status: int, *descriptions: str, headers: dict | None = None):
        super().__init__(descriptions[0])
        self.status = status
        self.descriptions = descriptions
        self.headers = headers or {}


# --- Rendering ----------------------------------------------------------------------------------


def _xml(name: str, value) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, list):
        for item in value:
            element.append(_xml(_XML_ITEMS[name], item))
    elif isinstance(value, dict):
        for key, child in value.items():
            element.append(_xml(key, child))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


def _render(fmt: str, root: str, data, *, status: int = 200, headers=None) -> HttpResponse:
    if fmt == "json":
        return JsonResponse(
            data,
            safe=False,
            status=status,
            headers=headers,
            content_type="application/json; charset=utf-8",
            json_dumps_params={"ensure_ascii": False},
        )
    body = ET.tostring(_xml(root, data), encoding="unicode")
    return HttpResponse(
        f'<?xml version="1.0" encoding="utf-8"?>\n{body}',
        status=status,
        headers=headers,
        content_type="text/xml; charset=utf-8",
    )


def _error_response(fmt: str, error: Open311Error) -> HttpResponse:
    errors = [{"code": error.status, "description": str(d)} for d in error.descriptions]
    return _render(fmt, "errors", errors, status=error.status, headers=error.headers)


def _count_read(request: HttpRequest) -> None:
    """Reads share the public requests API's budget per client address
    (REQUEST_API_READS_PER_HOUR), so Open311 is no way around it; writes are limited by the
    services."""
    key = f"req-api-read:ip:{ratelimit.ip_key(client_ip(request))}"
    try:
        ratelimit.hit(Limit(key, settings.REQUEST_API_READS_PER_HOUR))
    except RateLimited as limited:
        raise Open311Error(
            429, limited.message, headers={"Retry-After": str(limited.retry_after)}
        ) from None


def open311_view(*methods: str):
    """Checks the method and the jurisdiction, and turns refusals into the spec's errors."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request: HttpRequest, fmt: str, **kwargs) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise Open311Error(
                        405,
                        _("Method %(method)s is not allowed here.") % {"method": request.method},
                        headers={"Allow": ", ".join(methods)},
                    )
                if request.method == "GET":
                    _count_read(request)
                params = request.POST if request.method == "POST" else request.GET
                jurisdiction = params.get("jurisdiction_id", "").strip()
                # Optional: this endpoint serves one jurisdiction; a wrong one is still an error.
                if jurisdiction and jurisdiction != settings.OPEN311_JURISDICTION_ID:
                    raise Open311Error(
                        404,
                        _("jurisdiction_id %(id)s was not found; this endpoint serves %(ours)s.")
                        % {"id": jurisdiction, "ours": settings.OPEN311_JURISDICTION_ID},
                    )
                return view(request, fmt, **kwargs)
            except Open311Error as error:
                return _error_response(fmt, error)

        return csrf_exempt(wrapped)

    return decorate


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Anything else under the base URL, answered in XML (the spec's required format)."""
    fmt = "json" if path.endswith(".json") else "xml"
    return _error_response(
        fmt,
        Open311Error(
            404, _("No such Open311 resource. Add .json or .xml to services, requests or tokens.")
        ),
    )


# --- Services -----------------------------------------------------------------------------------


def _service_code(code: str) -> RequestCategory:
    try:
        return RequestCategory(code)
    except ValueError:
        raise Open311Error(
            404, _("service_code %(code)s was not found.") % {"code": code}
        ) from None


def _english_name(category: RequestCategory) -> str:
    # Stable English names: civic apps match on them; the description carries Bahasa Indonesia.
    with translation.override("en"):
        return str(category.label)


def _bilingual(text) -> str:
    with translation.override("en"):
        english = str(text)
    with translation.override("id"):
        indonesian = str(text)
    return english if english == indonesian else f"{english} / {indonesian}"


def _service(category: RequestCategory) -> dict:
    meta = SERVICES[category]
    return {
        "service_code": category.value,
        "service_name": _english_name(category),
        "description": _bilingual(meta["description"]),
        "metadata": True,
        "type": "batch",
        "keywords": meta["keywords"],
        "group": meta["group"],
    }


def _privacy_notice_url() -> str:
    return f"{settings.SITE_URL}{request_services.privacy_notice_path()}"


@open311_view("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET services: one service per request category."""
    return _render(fmt, "services", [_service(category) for category in RequestCategory])


@open311_view("GET")
def service_definition(request: HttpRequest, fmt: str, service_code: str) -> HttpResponse:
    """GET services/{service_code}: the one attribute every request needs, consent."""
    category = _service_code(service_code)
    consent = {
        "variable": True,
        "code": "consent",
        "datatype": "singlevaluelist",
        "required": True,
        "datatype_description": _("Send attribute[consent]=yes."),
        "order": 1,
        "description": _(
            "I have read the privacy notice (%(url)s) and agree that my email address is used "
            "to confirm and follow this request."
        )
        % {"url": _privacy_notice_url()},
        "values": [{"key": "yes", "name": _("Yes, I agree")}],
    }
    return _render(
        fmt, "service_definition", {"service_code": category.value, "attributes": [consent]}
    )


# --- Requests -----------------------------------------------------------------------------------


def _w3(moment: dt.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def _status_notes(item: CoverageRequest) -> str:
    if item.status == RequestStatus.MERGED and item.merged_into_id:
        return _("Merged into %(reference)s.") % {"reference": item.merged_into.reference}
    if item.status == RequestStatus.DECLINED and item.decline_reason:
        return item.decline_reason
    return str(item.get_status_display())


def _address(item: CoverageRequest) -> str:
    names = []
    area = item.kelurahan
    while area is not None:
        names.append(area.name)
        area = area.parent
    return ", ".join(names)


def _request(item: CoverageRequest) -> dict:
    """One request with the spec's fields, and nothing about the person who filed it."""
    closed = item.status in STATUS_GROUPS["closed"]
    updated = item.status_changed_at or item.verified_at or item.created_at
    return {
        "service_request_id": item.reference,
        "status": "closed" if closed else "open",
        "status_notes": _status_notes(item),
        "service_name": _english_name(RequestCategory(item.category)),
        "service_code": item.category,
        # Residents' free text may name people or places too precisely; it is never published.
        "description": None,
        "agency_responsible": AGENCY,
        "service_notice": None,
        "requested_datetime": _w3(item.created_at),
        "updated_datetime": _w3(item.closed_at if closed and item.closed_at else updated),
        "expected_datetime": None,
        "address": _address(item),
        "address_id": item.kelurahan.code,
        "zipcode": None,
        "lat": round(float(item.lat), 3),
        "long": round(float(item.lon), 3),
        "media_url": None,
    }


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _moment(value: str, name: str) -> dt.datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = dt.datetime.combine(day, dt.time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise Open311Error(
            400,
            _("%(name)s must be a w3 date and time, e.g. 2026-01-01T00:00:00Z.") % {"name": name},
        )
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _window(params) -> tuple[dt.datetime, dt.datetime]:
    """The spec's date range: at most 90 days, the latest 90 days when not given."""
    start = _moment(params.get("start_date", ""), "start_date")
    end = _moment(params.get("end_date", ""), "end_date")
    if start and end:
        if end < start:
            raise Open311Error(400, _("end_date must not be before start_date."))
        if end - start > MAX_SPAN:
            raise Open311Error(400, _("start_date and end_date may not span more than 90 days."))
        return start, end
    if start:
        return start, start + MAX_SPAN
    end = end or timezone.now()
    return end - MAX_SPAN, end


def _public_requests():
    return request_selectors.public_request_list(filters={}).select_related(
        "kelurahan__parent__parent__parent", "merged_into"
    )


def _request_list(request: HttpRequest, fmt: str) -> HttpResponse:
    params = request.GET
    requests = _public_requests()
    if ids := _split(params.get("service_request_id", "")):
        # The spec: service_request_id overrides every other argument.
        requests = requests.filter(reference__in=ids[:MAX_RESULTS])
    else:
        if codes := _split(params.get("service_code", "")):
            requests = requests.filter(category__in=[_service_code(code) for code in codes])
        if statuses := _split(params.get("status", "")):
            unknown = [status for status in statuses if status not in STATUS_GROUPS]
            if unknown:
                raise Open311Error(
                    400,
                    _("status must be open or closed, not %(value)s.") % {"value": unknown[0]},
                )
            requests = requests.filter(
                status__in=set().union(*(STATUS_GROUPS[status] for status in statuses))
            )
        start, end = _window(params)
        requests = requests.filter(created_at__gte=start, created_at__lte=end)
    items = requests.order_by("-created_at", "-id")[:MAX_RESULTS]
    return _render(fmt, "service_requests", [_request(item) for item in items])


def _service_errors(error: ServiceError) -> Iterable[str]:
    if not error.errors:
        yield error.message
        return
    for field, messages in error.errors.items():
        name = _OPEN311_FIELDS.get(field, field)
        for message in messages:
            yield f"{name}: {message}" if field and field != "__all__" else message


def _make_token(item: CoverageRequest) -> str:
    return signing.Signer(salt=_TOKEN_SALT).sign_object(item.pk)


def _create_request(request: HttpRequest, fmt: str) -> HttpResponse:
    params = request.POST
    code = params.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, _("service_code was not provided."))
    category = _service_code(code)
    problems = []
    lat, lon = params.get("lat", "").strip(), params.get("long", "").strip()
    if not (lat and lon):
        problems.append(
            _(
                "lat and long are required: a request needs a pin on the map, "
                "an address is not enough."
            )
        )
    email = params.get("email", "").strip()
    if not email:
        if params.get("phone", "").strip():
            problems.append(_("Verification by SMS is not available yet; use email."))
        else:
            problems.append(_("email is required: the request counts once the email is confirmed."))
    if params.get("media_url", "").strip():
        problems.append(_("media_url is not accepted; send the request without it."))
    if params.get("attribute[consent]", "").strip().lower() != "yes":
        problems.append(
            _("attribute[consent] must be yes: the privacy notice must be accepted (%(url)s).")
            % {"url": _privacy_notice_url()}
        )
    if problems:
        raise Open311Error(400, *problems)
    name = " ".join(
        part
        for part in (params.get("first_name", "").strip(), params.get("last_name", "").strip())
        if part
    )
    try:
        item, _verification = request_services.request_submit(
            lat=lat,
            lon=lon,
            category=category.value,
            description=params.get("description", ""),
            contact=email,
            name=name,
            consent=True,
            language=translation.get_language() or settings.LANGUAGE_CODE,
            ip=client_ip(request),
        )
    except ServiceError as error:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
        raise Open311Error(error.status_code, *_service_errors(error), headers=headers) from None
    hours = settings.REQUEST_VERIFICATION_HOURS
    notice = _(
        "We sent a confirmation link to the email address given. The request is published and "
        "counted once it is confirmed, within %(hours)s hours."
    ) % {"hours": hours}
    return _render(
        fmt,
        "service_requests",
        [{"token": _make_token(item), "service_notice": notice, "account_id": None}],
    )


@open311_view("GET", "POST")
def requests_view(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET requests (the list, filtered) and POST requests (file a new one)."""
    if request.method == "POST":
        return _create_request(request, fmt)
    return _request_list(request, fmt)


@open311_view("GET")
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    """GET requests/{service_request_id}: one request, as a one-item list per the spec."""
    item = _public_requests().filter(reference=service_request_id).first()
    if item is None:
        raise Open311Error(
            404,
            _("service_request_id %(id)s was not found.") % {"id": service_request_id},
        )
    return _render(fmt, "service_requests", [_request(item)])


@open311_view("GET")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    """GET tokens/{token}: the service_request_id once the email is confirmed, empty before."""
    not_found_error = Open311Error(404, _("token %(token)s was not found.") % {"token": token})
    try:
        pk = signing.Signer(salt=_TOKEN_SALT).unsign_object(token)
    except signing.BadSignature:
        raise not_found_error from None
    row = CoverageRequest.objects.filter(pk=pk).values_list("reference", "status").first()
    if row is None:
        raise not_found_error
    reference, status = row
    service_request_id = None if status == RequestStatus.UNVERIFIED else reference
    return _render(
        fmt, "service_requests", [{"service_request_id": service_request_id, "token": token}]
    )


@open311_view("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    """Service discovery (http://wiki.open311.org/Service_Discovery/), which the spec requires."""
    return _render(
        fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": _("Questions about this API: %(agency)s, %(url)s")
            % {"agency": AGENCY, "url": settings.SITE_URL},
            "key_service": _("No API key is needed."),
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": f"{settings.SITE_URL}/open311/v2",
                    "changeset": CHANGESET,
                    "type": "test" if settings.DEBUG else "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )
