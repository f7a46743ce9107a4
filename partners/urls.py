from django.urls import path

from partners import views

app_name = "partners"
urlpatterns = [
    path("", views.partner_list, name="partner-list"),
    path("register/", views.partner_register, name="partner-register"),
    path("<int:pk>/", views.partner_detail, name="partner-detail"),
    path("<int:pk>/edit/", views.partner_edit, name="partner-edit"),
    path("<int:pk>/decision/<slug:action>/", views.partner_decide, name="partner-decide"),
    path("<int:pk>/invitations/new/", views.invitation_create, name="invitation-create"),
    path(
        "<int:pk>/invitations/<int:invitation_pk>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("<int:pk>/members/<int:membership_pk>/role/", views.member_role, name="member-role"),
    path("<int:pk>/members/<int:membership_pk>/remove/", views.member_remove, name="member-remove"),
    path("<int:pk>/documents/new/", views.document_upload, name="document-upload"),
    path(
        "<int:pk>/documents/<int:document_pk>/", views.document_download, name="document-download"
    ),
    path("<int:pk>/networks/new/", views.network_create, name="network-create"),
    path(
        "<int:pk>/networks/<int:network_pk>/<slug:action>/",
        views.network_decide,
        name="network-decide",
    ),
    # Emails link here: keep the name.
    path("invitations/<uuid:token>/", views.invitation_accept, name="invitation-accept"),
]
