"""Pages of maintenance tickets."""

from django.urls import path

from contracts import ticket_views

urlpatterns = [
    path("tickets/", ticket_views.ticket_list, name="ticket-list"),
    path("tickets/due/", ticket_views.tickets_due, name="tickets-due"),
    path("tickets/new/", ticket_views.ticket_create, name="ticket-create"),
    path("tickets/<int:pk>/", ticket_views.ticket_detail, name="ticket-detail"),
    path(
        "tickets/<int:pk>/evidence/<int:evidence_pk>/",
        ticket_views.ticket_evidence_download,
        name="ticket-evidence",
    ),
    path("tickets/<int:pk>/<slug:action>/", ticket_views.ticket_action, name="ticket-action"),
]
