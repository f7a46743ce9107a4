"""Dashboards: one /dashboard/ page whose sections follow the user's roles (officer, operator,
partner member; a user may be several), the gap-map GeoJSON, and the operator's live view.

Each section costs a fixed number of queries (portal.dashboard_selectors); the live view polls
/operator/live.json every 15 s (static/js/operator-live.js) instead of reloading the page.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import select_template
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.gzip import gzip_page

from contracts import selectors as contract_selectors
from partners import selectors as partner_selectors
from portal import dashboard_selectors as selectors
from portal.roles import is_officer, is_operator, is_sudin_officer
from sites import health_selectors
from sites.models import HealthStatus

try:
    from portal import charts
except ImportError:  # the charts module arrives with the public pages; without it, no charts
    charts = None

LIVE_POLL_SECONDS = 15
PENDING_SHOWN = 20


def _day_label(day) -> str:
    return formats.date_format(day, "j M")


def _availability_chart(cameras, title: str):
    if charts is None:
        return None
    points = [
        (_day_label(day), value) for day, value in selectors.availability_by_day(cameras=cameras)
    ]
    return charts.line_chart(points, title=title, unit="%")


def _sweep_chart():
    if charts is None:
        return None
    points = [
        (formats.date_format(timezone.localtime(started), "SHORT_DATETIME_FORMAT"), seconds)
        for started, seconds in selectors.sweep_durations()
    ]
    return charts.bar_chart(points, title=_("Sweep duration, last 50 sweeps"), unit="s")


def _officer_context(user) -> dict:
    fleet = health_selectors.fleet_summary(user)
    return {
        "pipeline": selectors.pipeline(user=user),
        "age_buckets": [
            (_("Under 7 days"), "under_7"),
            (_("7–14 days"), "7_to_14"),
            (_("Over 14 days"), "over_14"),
        ],
        "oldest_reviews": selectors.oldest_reviews(user=user),
        "gap_ranking": selectors.gap_ranking(user=user),
        "breaches": selectors.recent_breaches(user=user),
        "breach_days": selectors.BREACH_DAYS,
        "fleet": fleet,
        "statuses": HealthStatus.choices,
        "fleet_chart": _availability_chart(
            health_selectors.fleet_cameras(user),
            _("Fleet availability per day, last 30 days"),
        ),
        "pending_partners": list(
            partner_selectors.partners_awaiting_verification(user=user)[:PENDING_SHOWN]
        ),
        "pending_networks": list(
            partner_selectors.networks_awaiting_approval(user=user)[:PENDING_SHOWN]
        ),
        "sudin_kota": user.kota if is_sudin_officer(user) else None,
    }


def _partner_context(user) -> dict:
    cameras = selectors.my_cameras(user)
    counts = selectors.status_counts(cameras)
    return {
        "my_totals": [(value, label, counts[value]) for value, label in HealthStatus.choices],
        "my_camera_total": sum(counts.values()),
        "my_failing": selectors.failing_cameras(cameras),
        "my_tickets": selectors.my_tickets(user=user),
        "my_contracts": selectors.my_expiring_contracts(user=user),
        "contract_days": selectors.CONTRACT_EXPIRY_DAYS,
        "my_chart": _availability_chart(
            cameras, _("My cameras' availability per day, last 30 days")
        ),
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    officer = is_officer(user)
    operator = is_operator(user)
    member = selectors.is_partner_member(user)
    context = {
        "show_officer": officer,
        "show_operator": operator or officer,
        "show_partner": member,
        "memberships": partner_selectors.memberships_of(user=user),
        "applications": selectors.my_applications(user=user),
        "pole_requests": contract_selectors.pole_consent_requests(user=user).count(),
        "charts_available": charts is not None,
    }
    if officer:
        context.update(_officer_context(user))
    elif operator:
        context["fleet"] = health_selectors.fleet_summary(user)
        context["statuses"] = HealthStatus.choices
    if member:
        context.update(_partner_context(user))
    return render(request, "portal/dashboard.html", context)


@login_required
@gzip_page
@cache_control(private=True, max_age=selectors.GAP_CACHE_SECONDS)
def gap_map_json(request: HttpRequest) -> JsonResponse:
    """The coverage-gap choropleth (GeoJSON), for officers only."""
    if not is_officer(request.user):
        raise PermissionDenied
    return JsonResponse(selectors.gap_map(user=request.user))


def _require_live_watcher(request: HttpRequest) -> None:
    if not selectors.may_watch_live(request.user):
        raise PermissionDenied


@login_required
def operator(request: HttpRequest) -> HttpResponse:
    _require_live_watcher(request)
    live = selectors.live_status(user=request.user)
    # The city map partial is written by another slice; the page works without it.
    try:
        select_template(["portal/_city_map.html"])
        has_city_map = True
    except (TemplateDoesNotExist, TemplateSyntaxError):
        has_city_map = False
    return render(
        request,
        "portal/operator.html",
        {
            "live": live,
            "statuses": HealthStatus.choices,
            "poll_seconds": LIVE_POLL_SECONDS,
            "has_city_map": has_city_map,
            "sweep_chart": _sweep_chart(),
            "fleet_chart": _availability_chart(
                health_selectors.fleet_cameras(request.user),
                _("Fleet availability per day, last 30 days"),
            ),
        },
    )


@cache_control(private=True, no_cache=True)
def operator_live(request: HttpRequest) -> JsonResponse:
    """Counts by status and kota, open upstream incidents, the latest changes and sweep."""
    _require_live_watcher(request)
    return JsonResponse(selectors.live_status(user=request.user))
