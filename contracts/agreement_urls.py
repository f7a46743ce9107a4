"""Pages of partnership agreements (contracts, parties, shares, sites, obligations, documents)."""

from django.urls import path

from contracts import agreement_views as views

urlpatterns: list = [
    path("contracts/", views.contract_list, name="contract-list"),
    path("contracts/new/", views.contract_create, name="contract-create"),
    path(
        "contracts/from-application/<int:application_pk>/",
        views.contract_from_application,
        name="contract-from-application",
    ),
    path("contracts/<int:pk>/", views.contract_detail, name="contract-detail"),
    path("contracts/<int:pk>/edit/", views.contract_edit, name="contract-edit"),
    path("contracts/<int:pk>/parties/", views.contract_set_party, name="contract-set-party"),
    path(
        "contracts/<int:pk>/parties/<int:partner_pk>/remove/",
        views.contract_remove_party,
        name="contract-remove-party",
    ),
    path("contracts/<int:pk>/shares/", views.contract_add_share, name="contract-add-share"),
    path(
        "contracts/<int:pk>/shares/<int:share_pk>/remove/",
        views.contract_remove_share,
        name="contract-remove-share",
    ),
    path("contracts/<int:pk>/sites/", views.contract_add_site, name="contract-add-site"),
    path(
        "contracts/<int:pk>/sites/<int:site_pk>/remove/",
        views.contract_remove_site,
        name="contract-remove-site",
    ),
    path(
        "contracts/<int:pk>/obligations/",
        views.contract_add_obligation,
        name="contract-add-obligation",
    ),
    path(
        "contracts/<int:pk>/obligations/<int:obligation_pk>/remove/",
        views.contract_remove_obligation,
        name="contract-remove-obligation",
    ),
    path(
        "contracts/<int:pk>/documents/", views.contract_add_document, name="contract-add-document"
    ),
    path(
        "contracts/<int:pk>/documents/<int:document_pk>/",
        views.contract_document_download,
        name="contract-document",
    ),
    path("contracts/<int:pk>/sign/", views.contract_sign, name="contract-sign"),
    path("contracts/<int:pk>/amend/", views.contract_amend, name="contract-amend"),
    path("contracts/<int:pk>/<slug:action>/", views.contract_action, name="contract-action"),
]
