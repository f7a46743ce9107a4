"""Project-level pages: home, dashboard, language switch, health."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views import i18n as i18n_views
from django.views.decorators.http import require_POST

from contracts import selectors as contract_selectors
from partners import selectors as partner_selectors
from portal import services
from portal.roles import is_officer


def home(request):
    return render(request, "portal/home.html")


@login_required
def dashboard(request):
    user = request.user
    context = {
        "memberships": partner_selectors.memberships_of(user=user),
        "pending_partners": partner_selectors.partners_awaiting_verification(user=user)
        if is_officer(user)
        else None,
        "pending_networks": partner_selectors.networks_awaiting_approval(user=user)
        if is_officer(user)
        else None,
        # Officers see every application; the dashboard lists those of the user's own partners.
        "applications": contract_selectors.application_list(user=user).filter(
            applicant__memberships__user=user
        )[:10],
        "review_waiting": contract_selectors.review_queue(user=user).count()
        if is_officer(user)
        else None,
        "review_overdue": contract_selectors.review_queue(
            user=user, filters={"overdue": True}
        ).count()
        if is_officer(user)
        else None,
        "pole_requests": contract_selectors.pole_consent_requests(user=user).count(),
    }
    return render(request, "portal/dashboard.html", context)


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_POST
def set_language(request):
    """Django's language switch, and for a signed-in person also their saved preference."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        services.user_set_language(user=request.user, language=language)
    return response
