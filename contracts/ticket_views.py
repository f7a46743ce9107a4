"""Maintenance ticket pages: the list (a partner's "my tickets", the officers' and operators' whole
view), what is due, opening a ticket by hand, the ticket with its clocks, history, evidence and the
steps the user may take. Reads go through contracts.ticket_selectors (another partner's ticket is a
404); every write is one call to contracts.ticket_services."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from contracts import ticket_selectors, ticket_services
from contracts.models import MaintenanceTicket, TicketStatus
from contracts.ticket_api import NewestOpenedFirst
from contracts.ticket_forms import (
    NoteWithPhotoForm,
    OptionalNoteForm,
    ReasonRequiredForm,
    TicketFilterForm,
    TicketOpenForm,
)
from portal.errors import Conflict, ServiceError
from portal.forms import add_service_error
from portal.pagination import cursor_page
from portal.roles import is_officer, is_operator

PAGE_SIZE = 50

# Content types of the re-encoded evidence photos, by the extension portal.images gives them.
_PHOTO_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}


def _with_note(service: Callable) -> Callable:
    return lambda ticket, user, data: service(ticket=ticket, actor=user, note=data["note"])


def _with_photo(service: Callable) -> Callable:
    return lambda ticket, user, data: service(
        ticket=ticket, actor=user, note=data["note"], photo=data.get("photo")
    )


def _with_reason(service: Callable) -> Callable:
    return lambda ticket, user, data: service(ticket=ticket, actor=user, reason=data["reason"])


# Ticket steps in page order: form, service call, button label, outcome message, button style.
TICKET_ACTIONS = {
    "acknowledge": (
        OptionalNoteForm,
        _with_note(ticket_services.ticket_acknowledge),
        gettext_lazy("Acknowledge"),
        gettext_lazy("The ticket is acknowledged."),
        "",
    ),
    "start": (
        OptionalNoteForm,
        _with_note(ticket_services.ticket_start_work),
        gettext_lazy("Start work"),
        gettext_lazy("Work on the ticket has started."),
        "",
    ),
    "resolve": (
        NoteWithPhotoForm,
        _with_photo(ticket_services.ticket_resolve),
        gettext_lazy("Mark resolved"),
        gettext_lazy("The ticket is resolved and waits for its check."),
        "",
    ),
    "note": (
        NoteWithPhotoForm,
        _with_photo(ticket_services.ticket_add_note),
        gettext_lazy("Add note"),
        gettext_lazy("The note is added."),
        "secondary",
    ),
    "verify": (
        OptionalNoteForm,
        _with_note(ticket_services.ticket_verify),
        gettext_lazy("Verify the repair"),
        gettext_lazy("The repair is verified; the ticket is closed."),
        "",
    ),
    "reopen": (
        ReasonRequiredForm,
        _with_reason(ticket_services.ticket_reopen),
        gettext_lazy("Reopen"),
        gettext_lazy("The ticket is reopened."),
        "secondary",
    ),
    "cancel": (
        ReasonRequiredForm,
        _with_reason(ticket_services.ticket_cancel),
        gettext_lazy("Cancel the ticket"),
        gettext_lazy("The ticket is cancelled."),
        "danger",
    ),
}


def _ticket_url(ticket: MaintenanceTicket) -> str:
    return reverse("contracts:ticket-detail", args=[ticket.pk])


def _with_clocks(tickets, now=None) -> list[MaintenanceTicket]:
    """Attach each ticket's clocks (computed from its own fields) for the templates."""
    now = now or timezone.now()
    rows = list(tickets)
    for ticket in rows:
        ticket.clocks = ticket_selectors.ticket_clocks(ticket=ticket, now=now)
    return rows


# --- lists ----------------------------------------------------------------------------------


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filter_form = TicketFilterForm(request.GET or None, user=user)
    tickets = ticket_selectors.ticket_list(user=user, filters=filter_form.filters())
    # Cursor pages in the API's order: no COUNT over everything the user may see (for a partner
    # that joins every ticket to its site) and no OFFSET.
    page = cursor_page(request, tickets, NewestOpenedFirst)
    officer_view = is_officer(user) or is_operator(user)
    return render(
        request,
        "contracts/ticket_list.html",
        {
            "filter_form": filter_form,
            "previous_url": page.previous_url,
            "next_url": page.next_url,
            "tickets": _with_clocks(page.rows),
            "title": _("Maintenance tickets") if officer_view else _("My tickets"),
            "show_responsible": officer_view,
            "can_open": ticket_selectors.ticket_site_choices(user=user).exists(),
        },
    )


@login_required
def tickets_due(request: HttpRequest) -> HttpResponse:
    tickets = ticket_selectors.tickets_due(user=request.user, within_hours=24)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "contracts/ticket_due.html",
        {
            "page": page,
            "tickets": _with_clocks(page.object_list),
            "show_responsible": is_officer(request.user) or is_operator(request.user),
        },
    )


# --- opening a ticket -----------------------------------------------------------------------


@login_required
def ticket_create(request: HttpRequest) -> HttpResponse:
    # ?site=<pk>&camera=<pk> preselects them (links from a site or camera page).
    site_id = request.POST.get("site") or request.GET.get("site")
    form = TicketOpenForm(
        request.POST or None,
        user=request.user,
        site_id=site_id,
        initial={"site": site_id, "camera": request.GET.get("camera")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            ticket = ticket_services.ticket_open(actor=request.user, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("Ticket %(reference)s is open and sent to %(partner)s.")
                % {"reference": ticket.reference, "partner": ticket.responsible.name},
            )
            return redirect(_ticket_url(ticket))
    return render(
        request,
        "contracts/ticket_form.html",
        {"form": form, "has_sites": form.fields["site"].queryset.exists()},
        status=400 if form.errors else 200,
    )


# --- one ticket -----------------------------------------------------------------------------


def _detail_page(
    request: HttpRequest,
    ticket: MaintenanceTicket,
    *,
    bound: tuple[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    now = timezone.now()
    allowed = ticket_selectors.ticket_actions(ticket=ticket, user=user)
    action_forms = []
    for name, (form_class, _call, label, _done, style) in TICKET_ACTIONS.items():
        if name not in allowed:
            continue
        form = bound[1] if bound and bound[0] == name else form_class(prefix=name)
        action_forms.append({"name": name, "form": form, "label": label, "style": style})
    if bound and bound[0] not in allowed:
        # The step is gone (someone else moved the ticket on): say why instead of a lost form.
        messages.error(request, _("This step is no longer available for this ticket."))
    labels = dict(TicketStatus.choices)
    events = list(ticket_selectors.ticket_events(ticket=ticket))
    for event in events:
        event.old_label = labels.get(event.old_status, event.old_status)
        event.new_label = labels.get(event.new_status, event.new_status)
    return render(
        request,
        "contracts/ticket_detail.html",
        {
            "ticket": ticket,
            "clocks": ticket_selectors.ticket_clocks(ticket=ticket, now=now),
            "events": events,
            "evidence": ticket_selectors.ticket_evidence(ticket=ticket).select_related(
                "uploaded_by"
            ),
            "action_forms": action_forms,
            "links_to_inventory": is_officer(user) or is_operator(user),
        },
        status=status,
    )


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, ticket_selectors.ticket_get(user=request.user, pk=pk))


@login_required
@require_POST
def ticket_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in TICKET_ACTIONS:
        raise Http404
    ticket = ticket_selectors.ticket_get(user=request.user, pk=pk)
    form_class, call, _label, success, _style = TICKET_ACTIONS[action]
    form = form_class(request.POST, request.FILES, prefix=action)
    if not form.is_valid():
        return _detail_page(request, ticket, bound=(action, form), status=400)
    try:
        call(ticket, request.user, form.cleaned_data)
    except Conflict as error:
        messages.error(request, error.message)
    except ServiceError as error:
        if set(error.errors) & set(form.fields):
            add_service_error(form, error)
            return _detail_page(request, ticket, bound=(action, form), status=400)
        messages.error(request, error.message)
    else:
        messages.success(request, str(success))
    return redirect(_ticket_url(ticket))


@login_required
def ticket_evidence_download(request: HttpRequest, pk: int, evidence_pk: int) -> FileResponse:
    ticket = ticket_selectors.ticket_get(user=request.user, pk=pk)
    evidence = ticket_selectors.ticket_evidence(ticket=ticket).filter(pk=evidence_pk).first()
    if evidence is None:
        raise Http404
    extension = evidence.extension.lower()
    response = FileResponse(
        evidence.file.open("rb"),
        filename=f"{ticket.reference}-{evidence.pk}.{extension}",
        content_type=_PHOTO_TYPES.get(extension, "application/octet-stream"),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
