"""Public pages (no sign-in): the landing page with progress to the camera target, the
kelurahan transparency pages, the partner guide and the technical requirements."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import formats
from django.utils.translation import gettext as _

from portal import charts, public_selectors
from sites import heartbeat_services

CITY_MAP_TEMPLATE = "portal/_city_map.html"


def _city_map_available() -> bool:
    """The clustered city map is a separate piece; the landing page renders without it."""
    try:
        get_template(CITY_MAP_TEMPLATE)
    except TemplateDoesNotExist:
        return False
    return True


def home(request: HttpRequest) -> HttpResponse:
    progress = public_selectors.landing_progress()
    requests_chart = charts.bar_chart(
        [
            (formats.date_format(month, "YEAR_MONTH_FORMAT"), count)
            for month, count in progress.requests_per_month
        ],
        title=_("Coverage requests per month"),
    )
    return render(
        request,
        "portal/home.html",
        {
            "progress": progress,
            "requests_chart": requests_chart,
            "city_map_template": CITY_MAP_TEMPLATE if _city_map_available() else None,
        },
    )


def kelurahan_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    kota = request.GET.get("kota", "")[:20]
    kotas = public_selectors.kota_choices()
    if kota not in dict(kotas):
        kota = ""
    return render(
        request,
        "portal/kelurahan_list.html",
        {
            "villages": public_selectors.kelurahan_index(query=query, kota=kota),
            "query": query,
            "kota": kota,
            "kotas": kotas,
        },
    )


def kelurahan_detail(request: HttpRequest, code: str) -> HttpResponse:
    report = public_selectors.kelurahan_report(code=code)
    availability_chart = charts.line_chart(
        [(formats.date_format(day, "j M"), value) for day, value in report.availability_days],
        title=_("Availability per day, last 30 days"),
        unit="%",
        y_max=100,
    )
    return render(
        request,
        "portal/kelurahan.html",
        {"report": report, "area": report.area, "availability_chart": availability_chart},
    )


def partner_guide(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/partner_guide.html")


def technical_requirements(request: HttpRequest) -> HttpResponse:
    # The health checker's own limits, so the published figures match what it enforces.
    checker = {
        "interval_minutes": max(settings.HEALTH_SWEEP_INTERVAL // 60, 1),
        "connect_timeout": settings.HEALTH_CONNECT_TIMEOUT,
        "read_timeout": settings.HEALTH_READ_TIMEOUT,
        "snapshot_mb": settings.HEALTH_MAX_SNAPSHOT_BYTES / (1024 * 1024),
        "clock_drift": settings.HEALTH_CLOCK_DRIFT_SECONDS,
        "down_after": settings.HEALTH_DOWN_AFTER,
        "up_after": settings.HEALTH_UP_AFTER,
        "heartbeat_timeout_minutes": max(settings.HEALTH_HEARTBEAT_TIMEOUT // 60, 1),
        "heartbeat_min_seconds": int(heartbeat_services.MIN_INTERVAL.total_seconds()),
    }
    return render(request, "portal/technical_requirements.html", {"checker": checker})
