from django.urls import path
from rest_framework.routers import SimpleRouter

from sites import api, health_api, request_api

router = SimpleRouter()
router.register("areas", api.AreaViewSet, basename="area")
router.register("poles", api.PoleViewSet, basename="pole")
router.register("sites", api.SiteViewSet, basename="site")
router.register("cameras", api.CameraViewSet, basename="camera")
router.register("health/fleet", health_api.FleetViewSet, basename="health-fleet")
router.register("health/changes", health_api.StatusChangeViewSet, basename="health-change")
router.register("health/outages", health_api.OutageViewSet, basename="health-outage")
router.register("health/cameras", health_api.CameraHealthViewSet, basename="health-camera")
router.register("health/sweeps", health_api.SweepViewSet, basename="health-sweep")
router.register("health/windows", health_api.MaintenanceWindowViewSet, basename="health-window")
router.register("health/incidents", health_api.UpstreamIncidentViewSet, basename="health-incident")
request_api.register(router)

urlpatterns = [
    *router.urls,
    path("heartbeats/", health_api.HeartbeatView.as_view(), name="heartbeat"),
    path("request-counts/", request_api.RequestCountsView.as_view(), name="request-counts"),
]
