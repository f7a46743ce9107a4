"""Fleet health pages: the fleet now, and one camera's health and history.

Operators, officers and partner members only; a partner sees only its own cameras, and another
partner's camera answers 404 (portal.permissions.get_scoped_or_404).
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.permissions import get_scoped_or_404
from sites import health_selectors as selectors
from sites.health import rollups, windows
from sites.models import Camera, HealthStatus

RECENT_CHANGES = 20
SWEEPS_SHOWN = 10
DAILY_SHOWN = 30
WINDOWS_SHOWN = 100


def _require_watcher(request: HttpRequest) -> None:
    if not selectors.may_watch_fleet(request.user):
        raise PermissionDenied


@login_required
def fleet_now(request: HttpRequest) -> HttpResponse:
    _require_watcher(request)
    summary = selectors.fleet_summary(request.user)
    show_sweeps = selectors.may_see_sweeps(request.user)
    return render(
        request,
        "sites/health_fleet.html",
        {
            "summary": summary,
            "statuses": HealthStatus.choices,
            "totals": [
                (value, label, summary.totals[value]) for value, label in HealthStatus.choices
            ],
            "changes": selectors.recent_changes(request.user, RECENT_CHANGES),
            "show_sweeps": show_sweeps,
            "sweeps": list(selectors.sweep_list(SWEEPS_SHOWN)) if show_sweeps else [],
        },
    )


@login_required
def camera_health(request: HttpRequest, pk: int) -> HttpResponse:
    _require_watcher(request)
    camera = get_scoped_or_404(
        request.user,
        Camera.objects.select_related("owner", "site__kelurahan__parent__parent", "health"),
        pk=pk,
    )
    history = selectors.camera_history(request.user, camera, page=request.GET.get("page") or 1)
    return render(
        request,
        "sites/health_camera.html",
        {
            "camera": camera,
            "health": selectors.camera_health(camera),
            "availability": selectors.camera_availability(request.user, camera, days=30),
            "history": history,
            "page": history.changes,
            "daily": rollups.recent_days(camera.pk, DAILY_SHOWN),
        },
    )


@login_required
def maintenance_windows(request: HttpRequest) -> HttpResponse:
    _require_watcher(request)
    return render(
        request,
        "sites/health_windows.html",
        {"windows": list(windows.visible_windows(request.user)[:WINDOWS_SHOWN])},
    )
