"""Partner pages. Each view looks its objects up through the permission scope (another partner's
object is a 404) and hands every write to one service in partners.services."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.paginator import Paginator
from django.forms.models import model_to_dict
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from guardian.shortcuts import get_perms

from partners import selectors, services
from partners.forms import (
    DecisionForm,
    DocumentForm,
    InvitationForm,
    MemberRoleForm,
    NetworkForm,
    PartnerFilterForm,
    PartnerForm,
    PartnerKindForm,
)
from partners.models import (
    CameraNetwork,
    Invitation,
    Membership,
    NetworkStatus,
    Partner,
    PartnerDocument,
    PartnerKind,
    PartnerStatus,
)
from portal.errors import Conflict, ServiceError
from portal.forms import add_service_error
from portal.permissions import get_scoped_or_404
from portal.roles import is_officer

# Officer decisions on a partner: the service, the status it applies to (which buttons show),
# the button label and what the officer is told afterwards.
PARTNER_ACTIONS = {
    "verify": (
        services.partner_verify,
        PartnerStatus.REGISTERED,
        gettext_lazy("Verify"),
        gettext_lazy("The partner is now verified."),
    ),
    "reject": (
        services.partner_reject,
        PartnerStatus.REGISTERED,
        gettext_lazy("Reject"),
        gettext_lazy("The partner's registration is rejected."),
    ),
    "suspend": (
        services.partner_suspend,
        PartnerStatus.VERIFIED,
        gettext_lazy("Suspend"),
        gettext_lazy("The partner is suspended."),
    ),
    "reinstate": (
        services.partner_reinstate,
        PartnerStatus.SUSPENDED,
        gettext_lazy("Reinstate"),
        gettext_lazy("The partner is verified again."),
    ),
}
NETWORK_ACTIONS = {
    "approve": (
        services.network_approve,
        NetworkStatus.PENDING,
        gettext_lazy("Approve"),
        gettext_lazy("The camera network is approved."),
    ),
    "reject": (
        services.network_reject,
        NetworkStatus.PENDING,
        gettext_lazy("Reject"),
        gettext_lazy("The camera network is rejected."),
    ),
    "revoke": (
        services.network_revoke,
        NetworkStatus.APPROVED,
        gettext_lazy("Revoke"),
        gettext_lazy("The camera network is revoked."),
    ),
}


# --- helpers --------------------------------------------------------------------------------


def _partner_or_404(request: HttpRequest, pk: int) -> Partner:
    return get_scoped_or_404(
        request.user, Partner.objects.select_related("kelurahan__parent__parent"), pk=pk
    )


def _require(request: HttpRequest, partner: Partner, perm: str) -> None:
    """An owners-only page: a member without the right gets 403 (they know the partner exists).

    The service checks again on every write; this only spares them a form they cannot use.
    """
    if not (request.user.is_superuser or request.user.has_perm(perm, partner)):
        raise Forbidden


def _require_officer(request: HttpRequest) -> None:
    if not is_officer(request.user):
        raise Forbidden


def _conflict_message(request: HttpRequest, error: Conflict) -> None:
    text = _(
        "Someone else has already decided on this. %(detail)s The page now shows the current state."
    )
    messages.error(request, text % {"detail": error.message})


def _submit(
    request: HttpRequest, form, call: Callable[[], object], *, success: str, next_url: str
) -> HttpResponse | None:
    """Run one service call for a valid form. None means: show the form again with the error."""
    try:
        call()
    except Conflict as error:
        _conflict_message(request, error)
        return redirect(next_url)
    except ServiceError as error:
        add_service_error(form, error)
        return None
    messages.success(request, success)
    return redirect(next_url)


def _button(
    request: HttpRequest, call: Callable[[], object], *, success: str, next_url: str
) -> HttpResponse:
    """A one-button write: the outcome is a message on the page it came from."""
    try:
        call()
    except Conflict as error:
        _conflict_message(request, error)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect(next_url)


def _detail_url(partner: Partner) -> str:
    return reverse("partners:partner-detail", args=[partner.pk])


# --- partners -------------------------------------------------------------------------------


@login_required
def partner_list(request: HttpRequest) -> HttpResponse:
    filter_form = PartnerFilterForm(request.GET or None)
    partners = selectors.partner_list(user=request.user, filters=filter_form.filters())
    page = Paginator(partners, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "partners/partner_list.html",
        {
            "filter_form": filter_form,
            "page": page,
            "partners": page.object_list,
        },
    )


@login_required
def partner_register(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in PartnerKind.values:
        return render(request, "partners/partner_register_kind.html", {"form": PartnerKindForm()})
    form = PartnerForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            partner = services.partner_register(user=request.user, kind=kind, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("%(name)s is registered. Upload its documents so an officer can verify it.")
                % {"name": partner.name},
            )
            return redirect(_detail_url(partner))
    return render(
        request,
        "partners/partner_form.html",
        {
            "form": form,
            "kind_label": PartnerKind(kind).label,
            "partner": None,
        },
    )


@login_required
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    user = request.user
    perms = set(get_perms(user, partner))
    officer = is_officer(user)
    is_member = partner.memberships.filter(user=user).exists()
    networks = list(selectors.partner_networks(user=user, partner=partner))
    for network in networks:
        network.actions = [
            (name, label)
            for name, (_s, status, label, _m) in NETWORK_ACTIONS.items()
            if officer and network.status == status
        ]
    history = list(partner.status_changes.select_related("actor").order_by("-created_at", "-id"))
    labels = dict(PartnerStatus.choices)
    for change in history:
        change.old_label = labels.get(change.old_status, change.old_status)
        change.new_label = labels.get(change.new_status, change.new_status)
    return render(
        request,
        "partners/partner_detail.html",
        {
            "partner": partner,
            "history": history,
            "members": selectors.partner_members(user=user, partner=partner),
            "invitations": selectors.partner_invitations(user=user, partner=partner),
            # Legal papers are for the partner's own people and the officers who verify them.
            "documents": selectors.partner_documents(user=user, partner=partner)
            if officer or is_member
            else None,
            "networks": networks,
            "can_edit": "change_partner" in perms,
            "can_manage_members": "manage_partner_members" in perms,
            "can_manage_documents": "manage_partner_documents" in perms,
            "can_manage_networks": "manage_partner_networks" in perms,
            "is_member": is_member,
            "partner_actions": [
                (name, label)
                for name, (_s, status, label, _m) in PARTNER_ACTIONS.items()
                if officer and partner.status == status
            ],
            "role_form": MemberRoleForm(),
        },
    )


@login_required
def partner_edit(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    _require(request, partner, "partners.change_partner")
    form = PartnerForm(
        request.POST or None,
        initial=model_to_dict(partner),
        kind=partner.kind,
        verified=partner.status == PartnerStatus.VERIFIED,
    )
    if request.method == "POST" and form.is_valid():
        response = _submit(
            request,
            form,
            lambda: services.partner_update(
                partner=partner, actor=request.user, **form.cleaned_data
            ),
            success=_("The details are saved."),
            next_url=_detail_url(partner),
        )
        if response:
            return response
    return render(
        request,
        "partners/partner_form.html",
        {
            "form": form,
            "kind_label": partner.get_kind_display(),
            "partner": partner,
        },
    )


@login_required
def partner_decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    return _decision_page(
        request,
        partner=partner,
        target={"partner": partner},
        actions=PARTNER_ACTIONS,
        action=action,
    )


def _decision_page(
    request: HttpRequest, *, partner, target: dict, actions: dict, action: str
) -> HttpResponse:
    """An officer's decision with a reason; `target` is the service's object keyword."""
    if action not in actions:
        raise Http404
    _require_officer(request)
    service, _status, label, success = actions[action]
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        response = _submit(
            request,
            form,
            lambda: service(**target, actor=request.user, reason=form.cleaned_data["reason"]),
            success=str(success),
            next_url=_detail_url(partner),
        )
        if response:
            return response
    context = {
        "form": form,
        "partner": partner,
        "action_label": label,
        "network": target.get("network"),
    }
    return render(request, "partners/decision.html", context)


# --- members and invitations ----------------------------------------------------------------


@login_required
def invitation_create(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    _require(request, partner, "partners.manage_partner_members")
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        response = _submit(
            request,
            form,
            lambda: services.invitation_create(
                partner=partner, actor=request.user, email=data["email"], role=data["role"]
            ),
            success=_("Invitation sent to %(email)s.") % {"email": data["email"]},
            next_url=_detail_url(partner),
        )
        if response:
            return response
    return render(request, "partners/invitation_form.html", {"form": form, "partner": partner})


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int, invitation_pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    invitation = get_scoped_or_404(
        request.user, Invitation.objects.filter(partner=partner), pk=invitation_pk
    )
    return _button(
        request,
        lambda: services.invitation_revoke(invitation=invitation, actor=request.user),
        success=_("The invitation to %(email)s is withdrawn.") % {"email": invitation.email},
        next_url=_detail_url(partner),
    )


@login_required
def invitation_accept(request: HttpRequest, token) -> HttpResponse:
    # The token is the secret: whoever holds the link may see which partner invites them.
    invitation = get_object_or_404(
        Invitation.objects.select_related("partner", "invited_by"), token=token
    )
    if request.method == "POST":
        try:
            services.invitation_accept(token=token, user=request.user)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("You are now a member of %(name)s.") % {"name": invitation.partner.name}
            )
            return redirect(_detail_url(invitation.partner))
    return render(
        request,
        "partners/invitation_accept.html",
        {
            "invitation": invitation,
            "usable": not (invitation.accepted_at or invitation.revoked_at)
            and invitation.expires_at > timezone.now(),
        },
    )


def _membership_or_404(request: HttpRequest, partner: Partner, membership_pk: int) -> Membership:
    return get_scoped_or_404(
        request.user,
        Membership.objects.select_related("user").filter(partner=partner),
        pk=membership_pk,
    )


@login_required
@require_POST
def member_role(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    membership = _membership_or_404(request, partner, membership_pk)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role."))
        return redirect(_detail_url(partner))
    return _button(
        request,
        lambda: services.membership_change_role(
            membership=membership, actor=request.user, role=form.cleaned_data["role"]
        ),
        success=_("%(name)s's role is changed.") % {"name": membership.user},
        next_url=_detail_url(partner),
    )


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    membership = _membership_or_404(request, partner, membership_pk)
    leaving = membership.user_id == request.user.pk
    return _button(
        request,
        lambda: services.membership_remove(membership=membership, actor=request.user),
        success=_("You have left %(name)s.") % {"name": partner.name}
        if leaving
        else _("%(name)s is no longer a member.") % {"name": membership.user},
        # Someone who left can no longer see the partner's page.
        next_url=reverse("partners:partner-list") if leaving else _detail_url(partner),
    )


# --- documents ------------------------------------------------------------------------------


@login_required
def document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    _require(request, partner, "partners.manage_partner_documents")
    form = DocumentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        response = _submit(
            request,
            form,
            lambda: services.document_upload(
                partner=partner,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
            ),
            success=_("The document is uploaded."),
            next_url=_detail_url(partner),
        )
        if response:
            return response
    return render(request, "partners/document_form.html", {"form": form, "partner": partner})


@login_required
def document_download(request: HttpRequest, pk: int, document_pk: int) -> FileResponse:
    partner = _partner_or_404(request, pk)
    document = get_scoped_or_404(
        request.user, PartnerDocument.objects.filter(partner=partner), pk=document_pk
    )
    # Operators may see partners to run the fleet, but not their legal papers.
    if not (is_officer(request.user) or partner.memberships.filter(user=request.user).exists()):
        raise Http404
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type="application/pdf",
    )


# --- camera networks ------------------------------------------------------------------------


@login_required
def network_create(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    _require(request, partner, "partners.manage_partner_networks")
    form = NetworkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        response = _submit(
            request,
            form,
            lambda: services.network_request(
                partner=partner,
                actor=request.user,
                cidr=data["cidr"],
                ports=data["ports"],
                description=data["description"],
            ),
            success=_("The network is proposed. A Kominfotik officer will review it."),
            next_url=_detail_url(partner),
        )
        if response:
            return response
    return render(request, "partners/network_form.html", {"form": form, "partner": partner})


@login_required
def network_decide(request: HttpRequest, pk: int, network_pk: int, action: str) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    network = get_scoped_or_404(
        request.user, CameraNetwork.objects.filter(partner=partner), pk=network_pk
    )
    return _decision_page(
        request,
        partner=partner,
        target={"network": network},
        actions=NETWORK_ACTIONS,
        action=action,
    )
