from django.urls import path

from sites import health_views, request_urls, views

app_name = "sites"
urlpatterns = [
    path("areas/", views.area_list, name="area-list"),
    path("areas/locate/", views.locate, name="locate"),
    path("areas/<str:code>/", views.kelurahan_detail, name="kelurahan-detail"),
    path("poles/", views.pole_list, name="pole-list"),
    path("poles/new/", views.pole_create, name="pole-create"),
    path("poles/import/", views.pole_import, name="pole-import"),
    path("poles/<int:pk>/", views.pole_detail, name="pole-detail"),
    path("poles/<int:pk>/edit/", views.pole_edit, name="pole-edit"),
    path("sites/", views.site_list, name="site-list"),
    path("sites/new/", views.site_propose, name="site-propose"),
    path("sites/<int:pk>/", views.site_detail, name="site-detail"),
    path("sites/<int:pk>/edit/", views.site_edit, name="site-edit"),
    path("sites/<int:pk>/cameras/new/", views.camera_create, name="camera-create"),
    path("sites/<int:pk>/<slug:action>/", views.site_action, name="site-action"),
    path("cameras/", views.camera_list, name="camera-list"),
    path("cameras/<int:pk>/", views.camera_detail, name="camera-detail"),
    path("cameras/<int:pk>/edit/", views.camera_edit, name="camera-edit"),
    path(
        "cameras/<int:pk>/heartbeat/<slug:action>/",
        views.camera_heartbeat,
        name="camera-heartbeat",
    ),
    path("health/", health_views.fleet_now, name="health-fleet"),
    path("health/cameras/<int:pk>/", health_views.camera_health, name="health-camera"),
    path("health/windows/", health_views.maintenance_windows, name="health-windows"),
]

urlpatterns += request_urls.urlpatterns
