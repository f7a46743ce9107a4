"""Pages and endpoints of the map slice (issue #7)."""

from django.urls import path

from portal import map_views

urlpatterns = [
    path("map/cameras.json", map_views.map_cameras, name="map-cameras"),
    path("map/status.json", map_views.map_status, name="map-status"),
    path("map/requests.json", map_views.map_requests, name="map-requests"),
]
