"""Pages and endpoints of the dashboard slice (issue #7)."""

from django.urls import path

from portal import dashboard_views

urlpatterns = [
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/gap-map.json", dashboard_views.gap_map_json, name="dashboard-gap-map"),
    path("operator/", dashboard_views.operator, name="dashboard-operator"),
    path("operator/live.json", dashboard_views.operator_live, name="dashboard-operator-live"),
]
