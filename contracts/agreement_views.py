"""Partnership agreement pages: the contract list (officers: all in scope; partners: their own),
drafting by hand or from an approved application, the contract page with every draft edit and
lifecycle step, and document downloads.

Contracts are looked up through contracts.agreement_selectors (another partner's contract is a
404); each write is one call to contracts.agreement_services, which checks again who may act.
A form or button shows only to those the service would let through.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from contracts import agreement_selectors as selectors
from contracts import agreement_services as services
from contracts.agreement_forms import (
    ContractFilterForm,
    ContractForm,
    DocumentForm,
    ObligationForm,
    PartyForm,
    ShareForm,
    SignForm,
    SiteForm,
)
from contracts.forms import ReasonForm
from contracts.models import Contract, ContractStatus, PartyRole
from contracts.selectors import application_get
from portal.errors import Conflict, ServiceError
from portal.forms import add_service_error
from portal.roles import is_officer

CHANGED_ELSEWHERE = gettext_lazy(
    "Someone else has already acted on this contract; the page shows its current state."
)

# Lifecycle buttons: service, the status it starts from, label, outcome, reason required.
CONTRACT_ACTIONS = {
    "submit": (
        services.contract_submit_for_review,
        ContractStatus.DRAFT,
        gettext_lazy("Send to legal review"),
        gettext_lazy("The contract is in legal review."),
        False,
    ),
    "return": (
        services.contract_return,
        ContractStatus.LEGAL_REVIEW,
        gettext_lazy("Return to draft"),
        gettext_lazy("The contract is returned to draft."),
        True,
    ),
    "activate": (
        services.contract_activate,
        ContractStatus.SIGNED,
        gettext_lazy("Bring into force"),
        gettext_lazy("The contract is in force."),
        False,
    ),
    "terminate": (
        services.contract_terminate,
        None,  # signed or active
        gettext_lazy("Terminate"),
        gettext_lazy("The contract is terminated."),
        True,
    ),
}
_TERMINABLE = {ContractStatus.SIGNED, ContractStatus.ACTIVE}
_DOCUMENT_STATUSES = {ContractStatus.DRAFT, ContractStatus.LEGAL_REVIEW}


# --- helpers --------------------------------------------------------------------------------


def _contract_or_404(request: HttpRequest, pk: int) -> Contract:
    return selectors.contract_get(user=request.user, pk=pk)


def _officer_contract(request: HttpRequest, pk: int) -> Contract:
    """A contract for an officer's write: 404 if the user may not see it, 403 if they see it
    but are no officer (a party's member, an operator); the service decides the rest."""
    contract = _contract_or_404(request, pk)
    if not is_officer(request.user):
        raise Forbidden
    return contract


def _contract_url(contract: Contract) -> str:
    return reverse("contracts:contract-detail", args=[contract.pk])


def _button(
    request: HttpRequest, call: Callable[[], object], *, success: str, next_url: str
) -> HttpResponse:
    """A one-button write: the outcome is a message on the page it came from, never a 500."""
    try:
        call()
    except Conflict as error:
        messages.error(request, error.message)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect(next_url)


def _allowed(user, contract: Contract) -> dict[str, bool]:
    """Which forms and buttons the page shows (the services decide again on submit)."""
    officer = services.officer_for(user, contract.kota_id)
    status = contract.status
    draft = officer and status == ContractStatus.DRAFT
    return {
        "edit": draft,
        "submit": draft,
        "return": status == ContractStatus.LEGAL_REVIEW
        and services.has_role(user, services.LEGAL_ROLES),
        "sign": status == ContractStatus.LEGAL_REVIEW
        and services.has_role(user, services.SIGNING_ROLES)
        and services.submitted_by(contract) != user.pk,
        "activate": officer
        and status == ContractStatus.SIGNED
        and contract.term_start <= timezone.localdate(),
        "terminate": status in _TERMINABLE and services.has_role(user, services.SIGNING_ROLES),
        "amend": officer
        and status == ContractStatus.ACTIVE
        and not Contract.objects.filter(
            number=contract.number,
            status__in=[ContractStatus.DRAFT, ContractStatus.LEGAL_REVIEW, ContractStatus.SIGNED],
        ).exists(),
        "document": officer and status in _DOCUMENT_STATUSES,
    }


def _history(contract: Contract) -> list:
    labels = dict(ContractStatus.choices)
    rows = list(selectors.contract_history(contract=contract))
    for row in rows:
        row.old_label = labels.get(row.old_status, row.old_status)
        row.new_label = labels.get(row.new_status, row.new_status)
    return rows


def _detail_page(
    request: HttpRequest, contract: Contract, status: int = 200, **forms
) -> HttpResponse:
    user = request.user
    allowed = _allowed(user, contract)
    parties = list(contract.parties.all())
    role_labels = dict(PartyRole.choices)
    for party in parties:
        party.role_labels = [str(role_labels.get(role, role)) for role in party.roles]
    shares = list(contract.shares.all())
    shares_total = sum(share.amount for share in shares)
    actions = [
        (name, label, reason_required)
        for name, (_s, _from, label, _m, reason_required) in CONTRACT_ACTIONS.items()
        if allowed[name]
    ]
    context = {
        "contract": contract,
        "parties": parties,
        "shares": shares,
        "shares_total": shares_total,
        "shares_match": shares_total == contract.total_value,
        "covered_sites": contract.covered_sites.all(),
        "obligations": contract.obligations.all(),
        "documents": contract.documents.all(),
        "versions": selectors.contract_versions(user=user, contract=contract),
        "history": _history(contract),
        "may_download": selectors.may_download_documents(user=user, contract=contract),
        "allowed": allowed,
        "actions": actions,
        "party_form": forms.get("party_form") or (PartyForm() if allowed["edit"] else None),
        "share_form": forms.get("share_form")
        or (ShareForm(contract=contract) if allowed["edit"] else None),
        "site_form": forms.get("site_form")
        or (SiteForm(user=user, contract=contract) if allowed["edit"] else None),
        "obligation_form": forms.get("obligation_form")
        or (ObligationForm(contract=contract) if allowed["edit"] else None),
        "document_form": forms.get("document_form")
        or (DocumentForm() if allowed["document"] else None),
        "sign_form": forms.get("sign_form") or (SignForm() if allowed["sign"] else None),
        "is_party_view": not is_officer(user),
    }
    return render(request, "contracts/contract_detail.html", context, status=status)


def _form_post(
    request: HttpRequest,
    pk: int,
    *,
    form_name: str,
    build: Callable[[Contract], object],
    call: Callable[[Contract, dict], object],
    success: str,
) -> HttpResponse:
    """A draft edit from a form: invalid input or a refusal shows the page again with the
    form's errors; a Conflict (no longer a draft) is a message on the fresh page."""
    contract = _officer_contract(request, pk)
    form = build(contract)
    if form.is_valid():
        try:
            call(contract, form.cleaned_data)
        except Conflict as error:
            messages.error(request, error.message)
            return redirect(_contract_url(contract))
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, success)
            return redirect(_contract_url(contract))
    return _detail_page(request, contract, status=400, **{form_name: form})


# --- list, create, edit ---------------------------------------------------------------------


@login_required
def contract_list(request: HttpRequest) -> HttpResponse:
    filter_form = ContractFilterForm(request.GET or None)
    contracts = selectors.contract_list(user=request.user, filters=filter_form.filters())
    page = Paginator(contracts, 50).get_page(request.GET.get("page"))
    officer = is_officer(request.user)
    return render(
        request,
        "contracts/contract_list.html",
        {
            "filter_form": filter_form,
            "page": page,
            "contracts": page.object_list,
            "officer": officer,
            "can_create": officer,
        },
    )


@login_required
def contract_create(request: HttpRequest) -> HttpResponse:
    if not is_officer(request.user):
        raise Forbidden
    form = ContractForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            contract = services.contract_create(actor=request.user, **form.service_fields())
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _(
                    "The contract is saved as a draft. Add its parties, co-funding, sites and "
                    "obligations, then send it to legal review."
                ),
            )
            return redirect(_contract_url(contract))
    return render(request, "contracts/contract_form.html", {"form": form, "contract": None})


@login_required
def contract_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract_or_404(request, pk)
    if not services.officer_for(request.user, contract.kota_id):
        raise Forbidden
    initial = {
        "number": contract.number,
        "title": contract.title,
        "kota": contract.kota.code if contract.kota else None,
        "term_start": contract.term_start,
        "term_end": contract.term_end,
        "renewal": contract.renewal,
        "total_value": contract.total_value,
        "first_party_signatory": contract.first_party_signatory,
        "first_party_signatory_title": contract.first_party_signatory_title,
    }
    form = ContractForm(request.POST or None, user=request.user, editing=contract, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.contract_update(contract=contract, actor=request.user, **form.service_fields())
        except Conflict as error:
            messages.error(request, error.message)
            return redirect(_contract_url(contract))
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The contract is saved."))
            return redirect(_contract_url(contract))
    return render(request, "contracts/contract_form.html", {"form": form, "contract": contract})


@login_required
@require_POST
def contract_from_application(request: HttpRequest, application_pk: int) -> HttpResponse:
    if not is_officer(request.user):
        raise Forbidden
    application = application_get(user=request.user, pk=application_pk)
    try:
        contract = services.contract_draft_from_application(
            application=application, actor=request.user
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("contracts:application-detail", pk=application.pk)
    messages.success(
        request,
        _(
            "Contract %(number)s is drafted from the application. Check it, then send it to "
            "legal review."
        )
        % {"number": contract.number},
    )
    return redirect(_contract_url(contract))


# --- the contract page ----------------------------------------------------------------------


@login_required
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, _contract_or_404(request, pk))


@login_required
@require_POST
def contract_set_party(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_post(
        request,
        pk,
        form_name="party_form",
        build=lambda contract: PartyForm(request.POST),
        call=lambda contract, data: services.contract_set_party(
            contract=contract, actor=request.user, **data
        ),
        success=_("The party is saved."),
    )


def _pick(rows, **match):
    """The row of `rows` (already prefetched with the contract) whose fields equal `match`; 404."""
    found = next((row for row in rows if all(getattr(row, k) == v for k, v in match.items())), None)
    if found is None:
        raise Http404
    return found


@login_required
@require_POST
def contract_remove_party(request: HttpRequest, pk: int, partner_pk: int) -> HttpResponse:
    contract = _officer_contract(request, pk)
    party = _pick(contract.parties.all(), partner_id=partner_pk)
    return _button(
        request,
        lambda: services.contract_remove_party(
            contract=contract, actor=request.user, partner=party.partner
        ),
        success=_("The party is removed."),
        next_url=_contract_url(contract),
    )


@login_required
@require_POST
def contract_add_share(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_post(
        request,
        pk,
        form_name="share_form",
        build=lambda contract: ShareForm(request.POST, contract=contract),
        call=lambda contract, data: services.contract_add_share(
            contract=contract, actor=request.user, **data
        ),
        success=_("The co-funding share is added."),
    )


@login_required
@require_POST
def contract_remove_share(request: HttpRequest, pk: int, share_pk: int) -> HttpResponse:
    contract = _officer_contract(request, pk)
    share = _pick(contract.shares.all(), pk=share_pk)
    return _button(
        request,
        lambda: services.contract_remove_share(contract=contract, actor=request.user, share=share),
        success=_("The co-funding share is removed."),
        next_url=_contract_url(contract),
    )


@login_required
@require_POST
def contract_add_site(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_post(
        request,
        pk,
        form_name="site_form",
        build=lambda contract: SiteForm(request.POST, user=request.user, contract=contract),
        call=lambda contract, data: services.contract_add_site(
            contract=contract, actor=request.user, site=data["site"]
        ),
        success=_("The site is added."),
    )


@login_required
@require_POST
def contract_remove_site(request: HttpRequest, pk: int, site_pk: int) -> HttpResponse:
    contract = _officer_contract(request, pk)
    entry = _pick(contract.covered_sites.all(), site_id=site_pk)
    return _button(
        request,
        lambda: services.contract_remove_site(
            contract=contract, actor=request.user, site=entry.site
        ),
        success=_("The site is removed."),
        next_url=_contract_url(contract),
    )


@login_required
@require_POST
def contract_add_obligation(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_post(
        request,
        pk,
        form_name="obligation_form",
        build=lambda contract: ObligationForm(request.POST, contract=contract),
        call=lambda contract, data: services.contract_add_obligation(
            contract=contract,
            actor=request.user,
            kind=data["kind"],
            value=data["value"],
            responsible=data["responsible"],
            sites=list(data["sites"]),
            notes=data["notes"],
        ),
        success=_("The obligation is added."),
    )


@login_required
@require_POST
def contract_remove_obligation(request: HttpRequest, pk: int, obligation_pk: int) -> HttpResponse:
    contract = _officer_contract(request, pk)
    obligation = _pick(contract.obligations.all(), pk=obligation_pk)
    return _button(
        request,
        lambda: services.contract_remove_obligation(
            contract=contract, actor=request.user, obligation=obligation
        ),
        success=_("The obligation is removed."),
        next_url=_contract_url(contract),
    )


@login_required
@require_POST
def contract_add_document(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_post(
        request,
        pk,
        form_name="document_form",
        build=lambda contract: DocumentForm(request.POST, request.FILES),
        call=lambda contract, data: services.contract_add_document(
            contract=contract, actor=request.user, upload=data["file"], kind=data["kind"]
        ),
        success=_("The document is attached."),
    )


@login_required
def contract_document_download(request: HttpRequest, pk: int, document_pk: int) -> FileResponse:
    document = selectors.contract_document_for_download(
        user=request.user, contract_pk=pk, document_pk=document_pk
    )
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def contract_sign(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_post(
        request,
        pk,
        form_name="sign_form",
        build=lambda contract: SignForm(request.POST, request.FILES),
        call=lambda contract, data: services.contract_sign(
            contract=contract,
            actor=request.user,
            signed_pdf=data["signed_pdf"],
            signed_at=data["signed_at"],
        ),
        success=_("The contract is signed and the signed PDF stored."),
    )


@login_required
@require_POST
def contract_amend(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _officer_contract(request, pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        addendum = services.contract_amend(contract=contract, actor=request.user, reason=reason)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect(_contract_url(contract))
    messages.success(
        request,
        _("Addendum %(n)s is drafted; the current version stays in force until it is signed.")
        % {"n": addendum.version - 1},
    )
    return redirect(_contract_url(addendum))


@login_required
@require_POST
def contract_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in CONTRACT_ACTIONS:
        raise Http404
    contract = _officer_contract(request, pk)
    service, _from, _label, success, _required = CONTRACT_ACTIONS[action]
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _button(
        request,
        lambda: service(contract=contract, actor=request.user, reason=reason),
        success=str(success),
        next_url=_contract_url(contract),
    )
