from django.urls import path

from contracts import agreement_urls, sla_urls, ticket_urls, views

app_name = "contracts"
urlpatterns = [
    path("programmes/", views.programme_list, name="programme-list"),
    path("programmes/new/", views.programme_create, name="programme-create"),
    path("programmes/<int:pk>/", views.programme_detail, name="programme-detail"),
    path("programmes/<int:pk>/edit/", views.programme_edit, name="programme-edit"),
    path("programmes/<int:pk>/<slug:action>/", views.programme_action, name="programme-action"),
    path("applications/", views.application_list, name="application-list"),
    path("applications/new/", views.application_create, name="application-create"),
    path("applications/<int:pk>/", views.application_detail, name="application-detail"),
    path("applications/<int:pk>/edit/", views.application_edit, name="application-edit"),
    path("applications/<int:pk>/sites/", views.application_add_site, name="application-add-site"),
    path(
        "applications/<int:pk>/sites/<int:site_pk>/remove/",
        views.application_remove_site,
        name="application-remove-site",
    ),
    path(
        "applications/<int:pk>/attachments/",
        views.application_attach,
        name="application-attach",
    ),
    path(
        "applications/<int:pk>/attachments/<int:attachment_pk>/",
        views.application_attachment_download,
        name="application-attachment",
    ),
    path("applications/<int:pk>/submit/", views.application_submit, name="application-submit"),
    path(
        "applications/<int:pk>/withdraw/", views.application_withdraw, name="application-withdraw"
    ),
    path(
        "applications/<int:pk>/decide/<slug:action>/",
        views.application_decide,
        name="application-decide",
    ),
    path("review/", views.review_queue, name="review-queue"),
    path("pole-requests/", views.pole_requests, name="pole-requests"),
    path(
        "pole-requests/<int:pk>/<slug:answer>/",
        views.pole_request_answer,
        name="pole-request-answer",
    ),
]

# Agreements, tickets and SLA reports keep their routes beside their views. SLA first: the
# agreement routes end with the POST-only catch-all contracts/<pk>/<action>/.
urlpatterns += sla_urls.urlpatterns + agreement_urls.urlpatterns + ticket_urls.urlpatterns
