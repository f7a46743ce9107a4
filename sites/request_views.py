"""Residents' coverage-request pages and the officers' triage pages.

Residents have no account. Whoever confirms a link or code sent to their email gets, for a
while, a "resident session": the verified contact's id in the Django session. It lets them
support and follow at once and see, export or delete their own data.

Public pages (the list and map, a request's tracking page, the duplicates lookup) show a coarse
location, the category, the status and the support count, never a name, contact, photo or the
resident's description (UU PDP No. 27/2022). Officers see everything, Sudin officers only their
kota. Every write is one call to sites.request_services; reads go through
sites.request_selectors.
"""

import json
import math
import time
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from portal.context_processors import map_config
from portal.errors import Conflict, ServiceError
from portal.errors import PermissionDenied as NotAllowed
from portal.forms import add_service_error
from portal.pagination import cursor_page
from portal.permissions import scope_queryset
from portal.ratelimit import client_ip
from portal.roles import is_officer
from sites import request_selectors, request_services
from sites.api import NewestIdFirst
from sites.models import (
    OPEN_REQUEST_STATUSES,
    REQUEST_TRANSITIONS,
    CoverageRequest,
    RequestStatus,
    ResidentContact,
    Site,
    SiteStatus,
    VerificationPurpose,
)
from sites.request_forms import (
    CodeForm,
    ContactForm,
    DeclineForm,
    DeleteForm,
    MergeForm,
    NoteForm,
    OptionalReasonForm,
    PlanForm,
    PublicFilterForm,
    QueueFilterForm,
    RequestForm,
    WorkingForm,
)
from sites.selectors import kelurahan_at

PAGE_SIZE = 50
# Session keys: the verified contact of this browser, when it was verified, and the address a
# verification was just sent to (to pre-fill the code form).
SESSION_CONTACT = "resident_contact_id"
SESSION_SINCE = "resident_verified_at"
SESSION_PENDING = "resident_pending_contact"
# A resident session is short: a shared phone should not keep someone's data open for long.
RESIDENT_SESSION_SECONDS = 2 * 60 * 60
# Sites offered when planning a request: within this distance of the pin.
PLAN_SITE_RADIUS_M = 2000
PLAN_SITE_LIMIT = 30
# Open requests within this distance are offered on the manage page as merge candidates.
DUPLICATE_HINT_RADIUS_M = 500
_PHOTO_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}


# --- helpers ----------------------------------------------------------------------------------


def _language() -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


def _tracking_url(coverage: CoverageRequest) -> str:
    return reverse("sites:request-detail", args=[coverage.reference])


def _rate_limited(request: HttpRequest, error: ServiceError) -> HttpResponse:
    """The friendly 429 page: what happened and when to try again."""
    retry_after = int(getattr(error, "retry_after", 0) or 0)
    response = render(
        request,
        "sites/request_rate_limited.html",
        {
            "message": error.message,
            "retry_minutes": max(1, math.ceil(retry_after / 60)) if retry_after else None,
            "retry_at": timezone.localtime() + timezone.timedelta(seconds=retry_after),
        },
        status=429,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _posted(request: HttpRequest, *, files: bool = False) -> tuple:
    """A form's data: bound on POST even when nothing was sent (so "required" is reported)."""
    if request.method != "POST":
        return (None, None) if files else (None,)
    return (request.POST, request.FILES) if files else (request.POST,)


def _is_rate_limit(error: ServiceError) -> bool:
    return error.status_code == 429


def _resident(request: HttpRequest) -> ResidentContact | None:
    """The verified contact of this browser's resident session, while it is fresh."""
    contact_id = request.session.get(SESSION_CONTACT)
    if not contact_id:
        return None
    if time.time() - request.session.get(SESSION_SINCE, 0) > RESIDENT_SESSION_SECONDS:
        _end_resident_session(request)
        return None
    contact = request_selectors.resident_contact(contact_id=contact_id)
    if contact is None:
        _end_resident_session(request)
    return contact


def _start_resident_session(request: HttpRequest, contact: ResidentContact) -> None:
    if request.session.get(SESSION_CONTACT) != contact.pk:
        # Another identity in this browser: a fresh session key, so a planted one is worthless.
        request.session.cycle_key()
    request.session[SESSION_CONTACT] = contact.pk
    request.session[SESSION_SINCE] = time.time()


def _end_resident_session(request: HttpRequest) -> None:
    for key in (SESSION_CONTACT, SESSION_SINCE, SESSION_PENDING):
        request.session.pop(key, None)


def _await_email(request: HttpRequest, contact_value: str) -> HttpResponse:
    """After a verification email went out: the page that asks for the code."""
    request.session[SESSION_PENDING] = contact_value
    return redirect("sites:request-check-email")


def _coarse_point(coverage: CoverageRequest, *, label: bool = False) -> dict:
    point = {
        "lat": float(request_selectors.public_point(coverage.lat)),
        "lon": float(request_selectors.public_point(coverage.lon)),
    }
    if label:
        point["label"] = " · ".join(
            [coverage.reference, coverage.get_category_display(), coverage.get_status_display()]
        )
        point["url"] = _tracking_url(coverage)
    return point


def _public_history(coverage: CoverageRequest) -> list[dict]:
    """Status steps for the public: an officer is "Kominfotik" and a resident nobody; an
    officer's reason is shown (residents should know why), a resident's own words are not."""
    labels = dict(RequestStatus.choices)
    return [
        {
            "created_at": change.created_at,
            "label": labels.get(change.new_status, change.new_status),
            "by_officer": change.actor_id is not None,
            "reason": change.reason if change.actor_id is not None else "",
        }
        for change in coverage.status_changes.order_by("created_at", "id")
    ]


# --- the request form, the nearby lookup, the privacy notice ----------------------------------


def request_new(request: HttpRequest) -> HttpResponse:
    resident = _resident(request)
    initial = {"contact": request_services.contact_value(resident)} if resident else {}
    form = RequestForm(*_posted(request, files=True), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            request_services.request_submit(
                lat=data["lat"],
                lon=data["lon"],
                category=data["category"],
                description=data["description"],
                contact=data["contact"],
                name=data["name"],
                photo=data["photo"] or None,
                consent=data["consent"],
                language=_language(),
                ip=client_ip(request),
                honeypot=data["website"],
            )
        except ServiceError as error:
            if _is_rate_limit(error):
                return _rate_limited(request, error)
            add_service_error(form, error)
        else:
            return _await_email(request, data["contact"])
    return render(
        request,
        "sites/request_form.html",
        {
            "form": form,
            # The kelurahan under the pin comes with the duplicates lookup (request-map.js), so
            # map-pin.js need not look it up a second time.
            "map_config": {**map_config(request)["map_config"], "locateUrl": ""},
            "radius_m": settings.REQUEST_DUPLICATE_RADIUS_M,
        },
    )


@require_GET
def request_nearby(request: HttpRequest) -> JsonResponse:
    """The kelurahan under a pin and the open requests around it (public fields only)."""
    lat, lon = request.GET.get("lat", ""), request.GET.get("lon", "")
    try:
        area = kelurahan_at(lat=lat, lon=lon)
        found = request_selectors.requests_nearby(lat=lat, lon=lon)
    except ServiceError as error:
        return JsonResponse({"detail": error.message, "code": error.code}, status=400)
    results = []
    for item in found:
        url = reverse("sites:request-detail", args=[item["reference"]])
        results.append({**item, "url": url, "support_url": f"{url}#support"})
    return JsonResponse(
        {
            "name": area.name,
            "kecamatan": {"name": area.parent.name},
            "kota": {"name": area.parent.parent.name},
            "radius_m": settings.REQUEST_DUPLICATE_RADIUS_M,
            "results": results,
        }
    )


def request_privacy(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "sites/request_privacy.html",
        {
            "version": request_services.PRIVACY_NOTICE_VERSION,
            "purge_days": settings.REQUEST_PURGE_AFTER_DAYS,
        },
    )


# --- verification -----------------------------------------------------------------------------


def _after_verify(request: HttpRequest, verification) -> HttpResponse:
    """Open the resident session and show what the verification confirmed."""
    _start_resident_session(request, verification.contact)
    request.session.pop(SESSION_PENDING, None)
    coverage = verification.request
    if verification.purpose == VerificationPurpose.ACCESS or coverage is None:
        return redirect("sites:resident-me")
    if verification.purpose == VerificationPurpose.SUBMIT:
        return redirect("sites:request-confirmed", reference=coverage.reference)
    if verification.purpose == VerificationPurpose.SUPPORT:
        messages.success(request, _("Thank you: your support is counted."))
    else:
        messages.success(request, _("You now get an email when this request changes."))
    return redirect(_tracking_url(coverage))


def request_check_email(request: HttpRequest) -> HttpResponse:
    """ "Check your email": the emailed link works anywhere, the code works here."""
    pending = request.session.get(SESSION_PENDING, "")
    form = CodeForm(*_posted(request), initial={"contact": pending})
    if request.method == "POST" and form.is_valid():
        try:
            verification = request_services.contact_verify(
                contact_value=form.cleaned_data["contact"],
                code=form.cleaned_data["code"],
                ip=client_ip(request),
            )
        except ServiceError as error:
            if _is_rate_limit(error):
                return _rate_limited(request, error)
            add_service_error(form, error)
        else:
            return _after_verify(request, verification)
    return render(
        request,
        "sites/request_check_email.html",
        {"form": form, "pending": pending, "hours": settings.REQUEST_VERIFICATION_HOURS},
    )


def request_verify(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link. Opening it asks for one press: mail scanners that open every link
    would otherwise use up the one-time token before the resident does."""
    error = None
    if request.method == "POST":
        try:
            verification = request_services.contact_verify(token=token, ip=client_ip(request))
        except ServiceError as refused:
            if _is_rate_limit(refused):
                return _rate_limited(request, refused)
            error = refused.message
        else:
            return _after_verify(request, verification)
    return render(
        request,
        "sites/request_verify.html",
        {"error": error, "code_form": CodeForm()},
        status=400 if error else 200,
    )


def request_confirmed(request: HttpRequest, reference: str) -> HttpResponse:
    coverage = request_selectors.request_public(reference=reference)
    return render(
        request,
        "sites/request_confirmed.html",
        {
            "coverage": coverage,
            "tracking_url": request.build_absolute_uri(_tracking_url(coverage)),
        },
    )


# --- tracking page, support and follow --------------------------------------------------------


def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    coverage = request_selectors.request_public(reference=reference)
    resident = _resident(request)
    supported = following = mine = False
    if resident is not None:
        mine = coverage.contact_id == resident.pk
        supported = coverage.supports.filter(contact=resident, verified_at__isnull=False).exists()
        following = coverage.follows.filter(contact=resident, verified_at__isnull=False).exists()
    point = _coarse_point(coverage)
    feedback_url = None
    if mine and coverage.status in (RequestStatus.INSTALLED, RequestStatus.CONFIRMED):
        # The requester, known by the session, answers as from the emailed link.
        token = request_services.feedback_token(request_id=coverage.pk, contact_id=resident.pk)
        feedback_url = reverse("sites:request-working", args=[coverage.reference, token])
    return render(
        request,
        "sites/request_detail.html",
        {
            "coverage": coverage,
            "history": _public_history(coverage),
            "point": point,
            "points": [point],
            # Only where the camera is planned, not the site's address or its host.
            "site_kelurahan": coverage.site.kelurahan if coverage.site_id else None,
            "open": coverage.status in OPEN_REQUEST_STATUSES,
            "resident": resident,
            "mine": mine,
            "feedback_url": feedback_url,
            "supported": supported,
            "following": following,
            "contact_form": ContactForm(),
            "threshold": settings.REQUEST_SUPPORT_THRESHOLD,
        },
    )


def _support_or_follow(request: HttpRequest, reference: str, service, done: str) -> HttpResponse:
    coverage = request_selectors.request_public(reference=reference)
    resident = _resident(request)
    form = ContactForm(request.POST)
    if resident is None and not form.is_valid():
        for message in form.errors.get("contact", []):
            messages.error(request, message)
        return redirect(_tracking_url(coverage) + "#support")
    try:
        service(
            request=coverage,
            contact_value=None if resident else form.cleaned_data["contact"],
            contact=resident,
            ip=client_ip(request),
            language=_language(),
        )
    except ServiceError as error:
        if _is_rate_limit(error):
            return _rate_limited(request, error)
        messages.error(request, error.message)
        return redirect(_tracking_url(coverage) + "#support")
    if resident is None:
        return _await_email(request, form.cleaned_data["contact"])
    messages.success(request, done)
    return redirect(_tracking_url(coverage))


@require_POST
def request_support(request: HttpRequest, reference: str) -> HttpResponse:
    return _support_or_follow(
        request,
        reference,
        request_services.request_support,
        _("Thank you: your support is counted."),
    )


@require_POST
def request_follow(request: HttpRequest, reference: str) -> HttpResponse:
    return _support_or_follow(
        request,
        reference,
        request_services.request_follow,
        _("You now get an email when this request changes."),
    )


@require_POST
def request_unfollow(request: HttpRequest, reference: str) -> HttpResponse:
    coverage = request_selectors.request_public(reference=reference)
    resident = _resident(request)
    if resident is None:
        return redirect("sites:resident-me")
    request_services.request_unfollow(request=coverage, contact=resident)
    messages.success(request, _("You no longer get emails about this request."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = _tracking_url(coverage)
    return redirect(target)


def request_working(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The requester's "is it working?" page, opened from the signed link in the email."""
    coverage = request_selectors.request_public(reference=reference)
    form = WorkingForm(*_posted(request))
    try:
        linked, _contact = request_services.feedback_request(token=token)
    except ServiceError as error:
        return render(
            request,
            "sites/request_working.html",
            {"coverage": coverage, "link_error": error.message},
            status=400,
        )
    if linked.pk != coverage.pk:
        raise Http404
    if request.method == "POST" and form.is_valid():
        answer = "confirm" if request.POST.get("answer") == "confirm" else "reopen"
        try:
            request_services.request_feedback(
                token=token, answer=answer, reason=form.cleaned_data["reason"]
            )
        except Conflict as error:
            messages.error(request, error.message)
            return redirect(_tracking_url(coverage))
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("Thank you: the camera is confirmed working.")
                if answer == "confirm"
                else _("Thank you: the request is reopened and officers will look again."),
            )
            return redirect(_tracking_url(coverage))
    return render(
        request,
        "sites/request_working.html",
        {
            "coverage": coverage,
            "form": form,
            "can_confirm": RequestStatus.CONFIRMED in REQUEST_TRANSITIONS[coverage.status],
            "can_reopen": RequestStatus.REOPENED in REQUEST_TRANSITIONS[coverage.status],
        },
    )


# --- public list and map ----------------------------------------------------------------------


def request_list(request: HttpRequest) -> HttpResponse:
    filter_form = PublicFilterForm(request.GET or None)
    rows = request_selectors.public_request_list(filters=filter_form.filters())
    # Newest first by id, as the public API: numbered pages counted every request per view.
    page = cursor_page(request, rows, NewestIdFirst)
    rows = [(row, _coarse_point(row, label=True)) for row in page.rows]
    return render(
        request,
        "sites/request_list.html",
        {
            "filter_form": filter_form,
            "previous_url": page.previous_url,
            "next_url": page.next_url,
            "rows": rows,
            "points": [point for _row, point in rows],
            # Called by the template only when its cached table has to be rebuilt.
            "counts": request_selectors.request_counts_by_kelurahan,
            "counts_seconds": request_selectors.COUNTS_CACHE_SECONDS,
            "threshold": settings.REQUEST_SUPPORT_THRESHOLD,
        },
    )


# --- the resident's own data ------------------------------------------------------------------


def resident_me(request: HttpRequest) -> HttpResponse:
    resident = _resident(request)
    if resident is None:
        form = ContactForm(*_posted(request))
        if request.method == "POST" and form.is_valid():
            try:
                request_services.resident_request_access(
                    contact_value=form.cleaned_data["contact"],
                    ip=client_ip(request),
                    language=_language(),
                )
            except ServiceError as error:
                if _is_rate_limit(error):
                    return _rate_limited(request, error)
                add_service_error(form, error)
            else:
                # The same answer whether or not we know the address: nobody learns who asked.
                return _await_email(request, form.cleaned_data["contact"])
        return render(request, "sites/resident_access.html", {"form": form})
    return render(
        request,
        "sites/resident_me.html",
        {
            "resident": resident,
            "contact_value": request_services.contact_value(resident),
            "requests": resident.requests.exclude(status=RequestStatus.UNVERIFIED).select_related(
                "kelurahan"
            ),
            "supports": resident.supports.filter(verified_at__isnull=False).select_related(
                "request"
            ),
            "follows": resident.follows.filter(verified_at__isnull=False).select_related("request"),
        },
    )


def _resident_or_none(request: HttpRequest) -> ResidentContact | None:
    resident = _resident(request)
    if resident is None:
        messages.info(request, _("Confirm your email address first to see your data."))
    return resident


@require_GET
def resident_export(request: HttpRequest) -> HttpResponse:
    resident = _resident_or_none(request)
    if resident is None:
        return redirect("sites:resident-me")
    data = request_services.resident_export(contact=resident)
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="mitra-cctv-my-data.json"'
    response["Cache-Control"] = "no-store"
    return response


def resident_delete(request: HttpRequest) -> HttpResponse:
    resident = _resident_or_none(request)
    if resident is None:
        return redirect("sites:resident-me")
    form = DeleteForm(*_posted(request))
    if request.method == "POST" and form.is_valid():
        request_services.resident_delete(contact=resident)
        _end_resident_session(request)
        messages.success(request, _("Your personal data is deleted."))
        return redirect("sites:request-list")
    return render(request, "sites/resident_delete.html", {"form": form})


@require_POST
def resident_signout(request: HttpRequest) -> HttpResponse:
    _end_resident_session(request)
    messages.success(request, _("You are signed out of your resident data."))
    return redirect("sites:request-list")


# --- officers ---------------------------------------------------------------------------------


def _require_officer(request: HttpRequest) -> None:
    """Officer pages hold residents' personal data: Kominfotik officers only (not partners,
    residents or NOC operators)."""
    if not is_officer(request.user):
        raise Forbidden


@login_required
def request_queue(request: HttpRequest) -> HttpResponse:
    _require_officer(request)
    filter_form = QueueFilterForm(request.GET or None)
    rows = request_selectors.officer_queue(user=request.user, filters=filter_form.filters())
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [
        {"request": row, "priority": request_selectors.priority_of(row)} for row in page.object_list
    ]
    return render(
        request,
        "sites/request_queue.html",
        {
            "filter_form": filter_form,
            "page": page,
            "entries": entries,
            "threshold": settings.REQUEST_SUPPORT_THRESHOLD,
        },
    )


def _managed(request: HttpRequest, reference: str) -> CoverageRequest:
    """A request the officer may manage; 404 outside a Sudin officer's kota."""
    _require_officer(request)
    return request_selectors.officer_request(user=request.user, reference=reference)


def _plan_form(user, coverage: CoverageRequest, data=None) -> PlanForm:
    """The plan form, offering the sites the officer may see near the pin, nearest first."""
    lat, lon = float(coverage.lat), float(coverage.lon)
    dlat = PLAN_SITE_RADIUS_M / 111_320
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    candidates = (
        scope_queryset(user, Site.objects.select_related("kelurahan"))
        .exclude(status__in=[SiteStatus.REJECTED, SiteStatus.DECOMMISSIONED])
        .filter(
            lat__range=(coverage.lat - _decimal(dlat), coverage.lat + _decimal(dlat)),
            lon__range=(coverage.lon - _decimal(dlon), coverage.lon + _decimal(dlon)),
        )
    )
    distances = {}
    for site in candidates:
        distance = request_selectors.haversine_m(lat, lon, site.lat, site.lon)
        if distance <= PLAN_SITE_RADIUS_M:
            distances[site.pk] = round(distance)
    nearest = sorted(distances, key=distances.get)[:PLAN_SITE_LIMIT]
    sites = Site.objects.select_related("kelurahan").filter(pk__in=nearest)
    form = PlanForm(data, sites=sites, distances=distances, auto_id="plan_%s")
    field = form.fields["site"]
    # Nearest first in the select, as the distances say.
    field.choices = [("", field.empty_label)] + [
        (site.pk, field.label_from_instance(site))
        for site in sorted(sites, key=lambda site: distances[site.pk])
    ]
    return form


def _decimal(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def _steps(coverage: CoverageRequest) -> list[str]:
    """The officer steps the request's status allows, in page order."""
    targets = REQUEST_TRANSITIONS.get(coverage.status, set())
    steps = {
        "review": RequestStatus.UNDER_REVIEW,
        "plan": RequestStatus.PLANNED,
        "decline": RequestStatus.DECLINED,
        "merge": RequestStatus.MERGED,
        "reopen": RequestStatus.REOPENED,
    }
    return [step for step, status in steps.items() if status in targets]


def _manage_page(request: HttpRequest, coverage: CoverageRequest, *, bound=None):
    steps = _steps(coverage)
    forms = {
        step: form_class(auto_id=f"{step}_%s")
        for step, (form_class, _call, _done) in _STEPS.items()
        if form_class is not None
    }
    forms["plan"] = _plan_form(request.user, coverage) if "plan" in steps else None
    forms.update(bound or {})
    # Candidates for a merge: other open requests around the pin.
    duplicates = [
        item
        for item in request_selectors.requests_nearby(
            lat=coverage.lat, lon=coverage.lon, radius_m=DUPLICATE_HINT_RADIUS_M
        )
        if item["reference"] != coverage.reference
    ]
    labels = dict(RequestStatus.choices)
    history = [
        {
            "change": change,
            "old": labels.get(change.old_status, change.old_status),
            "new": labels.get(change.new_status, change.new_status),
        }
        for change in coverage.status_changes.all()
    ]
    return render(
        request,
        "sites/request_manage.html",
        {
            "coverage": coverage,
            "priority": request_selectors.priority_of(coverage),
            "history": history,
            "notes": coverage.notes.all(),
            "steps": steps,
            "forms": forms,
            "threshold": settings.REQUEST_SUPPORT_THRESHOLD,
            "merged_requests": coverage.merged_requests.order_by("reference"),
            "duplicates": duplicates if "merge" in steps else [],
            "duplicate_radius_m": DUPLICATE_HINT_RADIUS_M,
            "plan_radius_km": PLAN_SITE_RADIUS_M / 1000,
        },
    )


@login_required
def request_manage(request: HttpRequest, reference: str) -> HttpResponse:
    return _manage_page(request, _managed(request, reference))


def _merge_target(user, reference: str) -> CoverageRequest:
    target = (
        request_selectors.officer_queue(user=user, filters={"status": "all"})
        .filter(reference=reference)
        .first()
    )
    if target is None:
        raise ServiceError(_("No request with this reference."), field="into")
    return target


# Per step: the form and how it calls its service.
_STEPS = {
    "review": (
        OptionalReasonForm,
        lambda coverage, user, data: request_services.request_start_review(
            request=coverage, actor=user, reason=data["reason"]
        ),
        gettext_lazy("The request is under review."),
    ),
    "plan": (
        None,
        lambda coverage, user, data: request_services.request_plan(
            request=coverage, actor=user, site=data["site"], reason=data["reason"]
        ),
        gettext_lazy("The request is planned."),
    ),
    "decline": (
        DeclineForm,
        lambda coverage, user, data: request_services.request_decline(
            request=coverage,
            actor=user,
            reason=data["reason"],
            template=data["template"].code if data["template"] else None,
        ),
        gettext_lazy("The request is declined."),
    ),
    "merge": (
        MergeForm,
        lambda coverage, user, data: request_services.request_merge(
            request=coverage,
            into=_merge_target(user, data["into"]),
            actor=user,
            reason=data["reason"],
        ),
        gettext_lazy("The request is merged."),
    ),
    "reopen": (
        OptionalReasonForm,
        lambda coverage, user, data: request_services.request_reopen(
            request=coverage, actor=user, reason=data["reason"]
        ),
        gettext_lazy("The request is reopened."),
    ),
    "note": (
        NoteForm,
        lambda coverage, user, data: request_services.request_add_note(
            request=coverage, actor=user, body=data["body"]
        ),
        gettext_lazy("The note is saved."),
    ),
}


@login_required
@require_POST
def request_manage_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    if action not in _STEPS:
        raise Http404
    coverage = _managed(request, reference)
    if action != "note" and action not in _steps(coverage):
        messages.error(request, _("This step is not possible in the request's current status."))
        return redirect("sites:request-manage", reference=coverage.reference)
    form_class, call, done = _STEPS[action]
    if form_class is None:
        form = _plan_form(request.user, coverage, request.POST)
    else:
        form = form_class(request.POST, auto_id=f"{action}_%s")
    if form.is_valid():
        try:
            call(coverage, request.user, form.cleaned_data)
        except Conflict as error:
            # Someone else moved the request first: show its current state.
            messages.error(request, error.message)
            return redirect("sites:request-manage", reference=coverage.reference)
        except NotAllowed as error:
            raise Forbidden(error.message) from None
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, done)
            return redirect("sites:request-manage", reference=coverage.reference)
    return _manage_page(request, coverage, bound={action: form})


@login_required
def request_photo(request: HttpRequest, reference: str) -> FileResponse:
    coverage = _managed(request, reference)
    if not coverage.photo:
        raise Http404
    extension = (coverage.photo_extension or "jpg").lower()
    response = FileResponse(
        coverage.photo.open("rb"),
        filename=f"{coverage.reference}.{extension}",
        content_type=_PHOTO_TYPES.get(extension, "application/octet-stream"),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
