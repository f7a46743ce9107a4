"""Deal pipeline pages: programmes, hosting applications, the officers' review queue and the pole
owners' consent requests. Objects are looked up through contracts.selectors (another partner's
application is a 404) and every write is one call to contracts.services."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from contracts import selectors, services
from contracts.forms import (
    CO_APPLICANT_ROWS,
    ApplicationForm,
    AttachmentForm,
    CandidateSiteForm,
    ConsentForm,
    OfficerDecisionForm,
    ProgrammeForm,
    ReasonForm,
    ReviewQueueFilterForm,
)
from contracts.models import (
    ApplicationStatus,
    FundingSource,
    HostingApplication,
    Programme,
    ProgrammeStatus,
)
from partners.models import MemberRole
from partners.selectors import memberships_of
from portal.errors import Conflict, ServiceError
from portal.forms import add_service_error
from portal.roles import is_officer

DECIDED_ELSEWHERE = gettext_lazy(
    "Someone else has already decided on this application; the page shows its current state."
)

# Programme steps: service, the status it starts from (which buttons show), label, outcome.
PROGRAMME_ACTIONS = {
    "submit": (
        services.programme_submit,
        ProgrammeStatus.DRAFT,
        gettext_lazy("Submit for approval"),
        gettext_lazy("The programme is submitted for approval."),
    ),
    "approve": (
        services.programme_approve,
        ProgrammeStatus.SUBMITTED,
        gettext_lazy("Approve"),
        gettext_lazy("The programme is approved."),
    ),
    "return": (
        services.programme_return,
        ProgrammeStatus.SUBMITTED,
        gettext_lazy("Return to draft"),
        gettext_lazy("The programme is returned to draft."),
    ),
    "activate": (
        services.programme_activate,
        ProgrammeStatus.APPROVED,
        gettext_lazy("Activate"),
        gettext_lazy("The programme is active."),
    ),
    "close": (
        services.programme_close,
        ProgrammeStatus.ACTIVE,
        gettext_lazy("Close"),
        gettext_lazy("The programme is closed."),
    ),
}

# Officer review steps: service, statuses it applies to, label, outcome, takes a template.
REVIEW_ACTIONS = {
    "start-review": (
        services.application_start_review,
        {ApplicationStatus.SUBMITTED},
        gettext_lazy("Start technical review"),
        gettext_lazy("Technical review has started."),
        False,
    ),
    "finish-technical-review": (
        services.application_finish_technical_review,
        {ApplicationStatus.TECHNICAL_REVIEW},
        gettext_lazy("Finish technical review"),
        gettext_lazy("Technical review passed; the application is in legal review."),
        False,
    ),
    "approve": (
        services.application_approve,
        {ApplicationStatus.LEGAL_REVIEW},
        gettext_lazy("Approve"),
        gettext_lazy("The application is approved."),
        False,
    ),
    "return": (
        services.application_return,
        {
            ApplicationStatus.SUBMITTED,
            ApplicationStatus.TECHNICAL_REVIEW,
            ApplicationStatus.LEGAL_REVIEW,
        },
        gettext_lazy("Return for changes"),
        gettext_lazy("The application is returned to the applicant for changes."),
        True,
    ),
    "reject": (
        services.application_reject,
        {
            ApplicationStatus.SUBMITTED,
            ApplicationStatus.TECHNICAL_REVIEW,
            ApplicationStatus.LEGAL_REVIEW,
        },
        gettext_lazy("Reject"),
        gettext_lazy("The application is rejected."),
        True,
    ),
}

_WITHDRAWABLE = {ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED}
_ATTACHABLE = {
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.TECHNICAL_REVIEW,
    ApplicationStatus.LEGAL_REVIEW,
}


# --- helpers --------------------------------------------------------------------------------


def _require_officer(request: HttpRequest) -> None:
    if not is_officer(request.user):
        raise Forbidden


def _button(
    request: HttpRequest,
    call: Callable[[], object],
    *,
    success: str,
    next_url: str,
    conflict: str | None = None,
) -> HttpResponse:
    """A one-button write: the outcome is a message on the page it came from, never a 500."""
    try:
        call()
    except Conflict as error:
        messages.error(request, conflict or error.message)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect(next_url)


def _programme_or_404(request: HttpRequest, pk: int) -> Programme:
    programme = selectors.programme_list(user=request.user).filter(pk=pk).first()
    if programme is None:
        raise Http404
    return programme


def _application_or_404(request: HttpRequest, pk: int) -> HostingApplication:
    return selectors.application_get(user=request.user, pk=pk)


def _application_url(application: HostingApplication) -> str:
    return reverse("contracts:application-detail", args=[application.pk])


def _is_applicant_member(user, application: HostingApplication) -> bool:
    """Owners and staff of the applying partner edit the application (the service checks too)."""
    return (
        user.is_superuser
        or memberships_of(user=user)
        .filter(partner_id=application.applicant_id, role__in=[MemberRole.OWNER, MemberRole.STAFF])
        .exists()
    )


def _may_download(user, application: HostingApplication) -> bool:
    """Officers and the applicant's (or co-applicants') members; operators run the fleet and
    have no business with an applicant's papers."""
    if is_officer(user):
        return True
    party_ids = {application.applicant_id, *(p.partner_id for p in application.parties.all())}
    return memberships_of(user=user).filter(partner_id__in=party_ids).exists()


# --- programmes -----------------------------------------------------------------------------


@login_required
def programme_list(request: HttpRequest) -> HttpResponse:
    programmes = selectors.programme_list(user=request.user).prefetch_related(None)
    page = Paginator(programmes, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "contracts/programme_list.html",
        {"page": page, "programmes": page.object_list, "can_create": is_officer(request.user)},
    )


@login_required
def programme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    programme = _programme_or_404(request, pk)
    amounts = {row.source: row.amount for row in programme.budget.all()}
    budget = [
        {"label": label, "amount": amounts.get(source, 0)}
        for source, label in FundingSource.choices
    ]
    officer = is_officer(request.user)
    labels = dict(ProgrammeStatus.choices)
    history = list(selectors.programme_history(programme=programme).order_by("created_at", "id"))
    for change in history:
        change.old_label = labels.get(change.old_status, change.old_status)
        change.new_label = labels.get(change.new_status, change.new_status)
    targets = programme.target_kelurahan.select_related("parent__parent").order_by("name")
    return render(
        request,
        "contracts/programme_detail.html",
        {
            "programme": programme,
            "targets": targets,
            "budget": budget,
            "budget_total": sum(amounts.values()),
            "history": history,
            "can_edit": officer and programme.status == ProgrammeStatus.DRAFT,
            "actions": [
                (name, label)
                for name, (_s, status, label, _m) in PROGRAMME_ACTIONS.items()
                if officer and programme.status == status
            ],
            "reason_form": ReasonForm(),
        },
    )


def _programme_initial(programme: Programme) -> dict:
    initial = {
        "title": programme.title,
        "rationale": programme.rationale,
        "target_kelurahan": list(programme.target_kelurahan.all()),
        "camera_target": programme.camera_target,
        "period_start": programme.period_start,
        "period_end": programme.period_end,
    }
    for row in programme.budget.all():
        initial[f"budget_{row.source}"] = row.amount
    return initial


def _programme_form_page(
    request: HttpRequest, form: ProgrammeForm, programme: Programme | None
) -> HttpResponse:
    return render(request, "contracts/programme_form.html", {"form": form, "programme": programme})


@login_required
def programme_create(request: HttpRequest) -> HttpResponse:
    _require_officer(request)
    form = ProgrammeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            programme = services.programme_create(actor=request.user, **form.service_fields())
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The programme is saved as a draft."))
            return redirect("contracts:programme-detail", pk=programme.pk)
    return _programme_form_page(request, form, None)


@login_required
def programme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_officer(request)
    programme = _programme_or_404(request, pk)
    form = ProgrammeForm(request.POST or None, initial=_programme_initial(programme))
    if request.method == "POST" and form.is_valid():
        try:
            services.programme_update(
                programme=programme, actor=request.user, **form.service_fields()
            )
        except Conflict as error:
            messages.error(request, error.message)
            return redirect("contracts:programme-detail", pk=programme.pk)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The programme is saved."))
            return redirect("contracts:programme-detail", pk=programme.pk)
    return _programme_form_page(request, form, programme)


@login_required
@require_POST
def programme_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in PROGRAMME_ACTIONS:
        raise Http404
    _require_officer(request)
    programme = _programme_or_404(request, pk)
    service, _status, _label, success = PROGRAMME_ACTIONS[action]
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _button(
        request,
        lambda: service(programme=programme, actor=request.user, reason=reason),
        success=str(success),
        next_url=reverse("contracts:programme-detail", args=[programme.pk]),
    )


# --- applications: the applicant's side -----------------------------------------------------


@login_required
def application_list(request: HttpRequest) -> HttpResponse:
    applications = selectors.application_list(user=request.user)
    page = Paginator(applications, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "contracts/application_list.html",
        {"page": page, "applications": page.object_list},
    )


def _co_applicant_initial(application: HostingApplication) -> dict:
    initial = {}
    for row, party in enumerate(application.parties.all()[:CO_APPLICANT_ROWS], start=1):
        initial[f"co_applicant_{row}"] = party.partner_id
        initial[f"cost_share_{row}"] = party.cost_share
    return initial


@login_required
def application_create(request: HttpRequest) -> HttpResponse:
    form = ApplicationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            application = services.application_create(actor=request.user, **fields)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("The application is saved as a draft. Add its candidate sites, then submit it."),
            )
            return redirect(_application_url(application))
    return render(
        request,
        "contracts/application_form.html",
        {"form": form, "application": None, "co_rows": _co_rows(form)},
    )


def _co_rows(form: ApplicationForm) -> list[tuple]:
    return [
        (form[f"co_applicant_{row}"], form[f"cost_share_{row}"])
        for row in range(1, CO_APPLICANT_ROWS + 1)
    ]


@login_required
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application_or_404(request, pk)
    if not _is_applicant_member(request.user, application):
        raise Forbidden
    initial = {
        "title": application.title,
        "programme": application.programme_id,
        "cofunding_cash": application.cofunding_cash,
        "cofunding_in_kind": application.cofunding_in_kind,
        "cofunding_csr": application.cofunding_csr,
        "maintenance_commitment": application.maintenance_commitment,
        **_co_applicant_initial(application),
    }
    form = ApplicationForm(request.POST or None, user=request.user, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_update(
                application=application, actor=request.user, **form.service_fields()
            )
        except Conflict as error:
            messages.error(request, error.message)
            return redirect(_application_url(application))
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The application is saved."))
            return redirect(_application_url(application))
    return render(
        request,
        "contracts/application_form.html",
        {"form": form, "application": application, "co_rows": _co_rows(form)},
    )


def _detail_page(
    request: HttpRequest,
    application: HostingApplication,
    *,
    site_form: CandidateSiteForm | None = None,
    attachment_form: AttachmentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    officer = is_officer(user)
    member = _is_applicant_member(user, application)
    draft = application.status == ApplicationStatus.DRAFT
    decisions = list(selectors.application_decisions(application=application))
    statuses = dict(ApplicationStatus.choices)
    decision_labels = dict(services.Decision.choices)
    for row in decisions:
        row.step_label = statuses.get(row.old_status, row.old_status) or _("New")
        row.new_label = statuses.get(row.new_status, row.new_status)
        row.decision_label = decision_labels.get(row.decision, row.decision)
    review_actions = [
        (name, label, templated)
        for name, (_s, statuses_from, label, _m, templated) in REVIEW_ACTIONS.items()
        if officer and application.status in statuses_from
    ]
    context = {
        "application": application,
        "candidate_sites": application.candidate_sites.all(),
        "parties": application.parties.all(),
        "decisions": decisions,
        "next_steps": selectors.application_next_steps(application=application),
        "is_member": member,
        "can_edit": member and draft,
        "can_submit": member and draft,
        "can_withdraw": member and application.status in _WITHDRAWABLE,
        "can_attach": member and application.status in _ATTACHABLE,
        "can_download": _may_download(user, application),
        "site_form": site_form or (CandidateSiteForm() if member and draft else None),
        "attachment_form": attachment_form or AttachmentForm(),
        "review_actions": review_actions,
        "decision_form": OfficerDecisionForm() if review_actions else None,
        "overdue_days": settings.REVIEW_DEADLINE_DAYS,
    }
    return render(request, "contracts/application_detail.html", context, status=status)


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        application = _application_or_404(request, pk)
    except Http404:
        # The pole-consent email links here; a pole owner answers on its own page instead.
        if selectors.pole_consent_requests(user=request.user).filter(application_id=pk).exists():
            return redirect("contracts:pole-requests")
        raise
    return _detail_page(request, application)


@login_required
@require_POST
def application_add_site(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application_or_404(request, pk)
    form = CandidateSiteForm(request.POST)
    if form.is_valid():
        try:
            services.application_add_site(
                application=application, actor=request.user, **form.cleaned_data
            )
        except Conflict as error:
            messages.error(request, error.message)
            return redirect(_application_url(application))
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The candidate site is added."))
            return redirect(_application_url(application))
    return _detail_page(request, application, site_form=form, status=400)


@login_required
@require_POST
def application_remove_site(request: HttpRequest, pk: int, site_pk: int) -> HttpResponse:
    application = _application_or_404(request, pk)
    entry = next((e for e in application.candidate_sites.all() if e.site_id == site_pk), None)
    if entry is None:
        raise Http404
    return _button(
        request,
        lambda: services.application_remove_site(
            application=application, actor=request.user, site=entry.site
        ),
        success=_("The candidate site is removed."),
        next_url=_application_url(application),
    )


@login_required
@require_POST
def application_attach(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application_or_404(request, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.application_add_attachment(
                application=application, actor=request.user, upload=form.cleaned_data["file"]
            )
        except Conflict as error:
            messages.error(request, error.message)
            return redirect(_application_url(application))
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The document is attached."))
            return redirect(_application_url(application))
    return _detail_page(request, application, attachment_form=form, status=400)


@login_required
def application_attachment_download(
    request: HttpRequest, pk: int, attachment_pk: int
) -> FileResponse:
    application = _application_or_404(request, pk)
    attachment = next((a for a in application.attachments.all() if a.pk == attachment_pk), None)
    if attachment is None or not _may_download(request.user, application):
        raise Http404
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def application_submit(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application_or_404(request, pk)
    return _button(
        request,
        lambda: services.application_submit(application=application, actor=request.user),
        success=_("The application is submitted. Kominfotik will review it."),
        next_url=_application_url(application),
    )


@login_required
@require_POST
def application_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application_or_404(request, pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _button(
        request,
        lambda: services.application_withdraw(
            application=application, actor=request.user, comment=reason
        ),
        success=_("The application is withdrawn."),
        next_url=_application_url(application),
        conflict=str(DECIDED_ELSEWHERE),
    )


# --- applications: the officers' side -------------------------------------------------------


@login_required
@require_POST
def application_decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in REVIEW_ACTIONS:
        raise Http404
    _require_officer(request)
    application = _application_or_404(request, pk)
    service, _statuses, _label, success, templated = REVIEW_ACTIONS[action]
    form = OfficerDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a response template from the list."))
        return redirect(_application_url(application))
    kwargs = {"comment": form.cleaned_data["comment"]}
    if templated:
        kwargs["template"] = form.cleaned_data["template"] or None
    return _button(
        request,
        lambda: service(application=application, actor=request.user, **kwargs),
        success=str(success),
        next_url=_application_url(application),
        conflict=str(DECIDED_ELSEWHERE),
    )


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    _require_officer(request)
    filter_form = ReviewQueueFilterForm(request.GET or None, user=request.user)
    applications = selectors.review_queue(user=request.user, filters=filter_form.filters())
    page = Paginator(applications, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "contracts/review_queue.html",
        {
            "filter_form": filter_form,
            "page": page,
            "applications": page.object_list,
            "deadline_days": settings.REVIEW_DEADLINE_DAYS,
        },
    )


# --- pole owners ----------------------------------------------------------------------------


@login_required
def pole_requests(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "contracts/pole_requests.html",
        {
            "entries": selectors.pole_consent_requests(user=request.user).select_related(
                "site__pole__owner"
            ),
        },
    )


@login_required
@require_POST
def pole_request_answer(request: HttpRequest, pk: int, answer: str) -> HttpResponse:
    services_by_answer = {
        "accept": (services.pole_consent_accept, _("You accepted the camera on your pole.")),
        "decline": (services.pole_consent_decline, _("You declined the camera on your pole.")),
    }
    if answer not in services_by_answer:
        raise Http404
    # Entries on the user's own poles (answered ones too, so a second answer gets a message).
    entry = (
        selectors.application_site_list(user=request.user)
        .filter(pk=pk, site__pole__owner__memberships__user=request.user)
        .first()
    )
    if entry is None:
        raise Http404
    service, success = services_by_answer[answer]
    form = ConsentForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    return _button(
        request,
        lambda: service(entry=entry, actor=request.user, comment=comment),
        success=success,
        next_url=reverse("contracts:pole-requests"),
    )
