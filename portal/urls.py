from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from portal import views

urlpatterns = [
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include("portal.api_urls")),
    path("healthz", views.healthz, name="healthz"),
    path("open311/v2/", include("sites.open311_urls")),
]

# Pages carry no language prefix; the language comes from the switch (cookie) or the browser.
urlpatterns += [
    path("", include("portal.public_urls")),
    path("", include("portal.map_urls")),
    path("", include("portal.dashboard_urls")),
    path("", views.home, name="home"),
    path("accounts/", include("portal.account_urls")),
    path("partners/", include("partners.urls")),
    path("", include("sites.urls")),
    path("", include("contracts.urls")),
    path("admin/", admin.site.urls),
]
