"""Pages of residents' coverage requests (public, resident and officer); names in "sites"."""

from django.urls import path

from sites import request_views as views

urlpatterns = [
    path("requests/", views.request_list, name="request-list"),
    path("requests/new/", views.request_new, name="request-new"),
    path("requests/nearby.json", views.request_nearby, name="request-nearby"),
    path("requests/check-email/", views.request_check_email, name="request-check-email"),
    path("requests/verify/<str:token>/", views.request_verify, name="request-verify"),
    path("requests/queue/", views.request_queue, name="request-queue"),
    path("requests/<str:reference>/", views.request_detail, name="request-detail"),
    path(
        "requests/<str:reference>/confirmed/",
        views.request_confirmed,
        name="request-confirmed",
    ),
    path("requests/<str:reference>/support/", views.request_support, name="request-support"),
    path("requests/<str:reference>/follow/", views.request_follow, name="request-follow"),
    path("requests/<str:reference>/unfollow/", views.request_unfollow, name="request-unfollow"),
    path(
        "requests/<str:reference>/working/<str:token>/",
        views.request_working,
        name="request-working",
    ),
    path("requests/<str:reference>/manage/", views.request_manage, name="request-manage"),
    path(
        "requests/<str:reference>/manage/<slug:action>/",
        views.request_manage_action,
        name="request-manage-action",
    ),
    path("requests/<str:reference>/photo/", views.request_photo, name="request-photo"),
    path("privacy/requests/", views.request_privacy, name="request-privacy"),
    path("residents/me/", views.resident_me, name="resident-me"),
    path("residents/me/export/", views.resident_export, name="resident-export"),
    path("residents/me/delete/", views.resident_delete, name="resident-delete"),
    path("residents/me/signout/", views.resident_signout, name="resident-signout"),
]
