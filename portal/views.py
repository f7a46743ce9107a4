"""Project-level pages: home, language switch, health (dashboards: portal.dashboard_views)."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views import i18n as i18n_views
from django.views.decorators.http import require_POST

from portal import services


def home(request):
    return render(request, "portal/home.html")


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
