"""Every write to partners, memberships, documents and camera networks goes through here."""

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm

from partners import tasks
from partners.models import (
    LEGAL_ENTITY_KINDS,
    NETWORK_TRANSITIONS,
    PARTNER_TRANSITIONS,
    CameraNetwork,
    CameraNetworkStatusChange,
    Invitation,
    MemberRole,
    Membership,
    NetworkStatus,
    Partner,
    PartnerDocument,
    PartnerKind,
    PartnerStatus,
    PartnerStatusChange,
)
from partners.validators import normalize_npwp
from portal.audit import transition
from portal.documents import store_pdf
from portal.errors import PermissionDenied, ServiceError, full_clean_or_raise
from portal.permissions import require_partner_perm
from portal.roles import is_city_officer, is_officer, is_sudin_officer

# What each member role may do on its own partner (django-guardian object permissions).
ROLE_PERMISSIONS = {
    MemberRole.OWNER: [
        "view_partner",
        "change_partner",
        "manage_partner_members",
        "manage_partner_documents",
        "manage_partner_networks",
    ],
    MemberRole.STAFF: ["view_partner", "manage_partner_documents", "manage_partner_networks"],
    MemberRole.TECHNICIAN: ["view_partner"],
}

PARTNER_FIELDS = [
    "kind",
    "name",
    "legal_name",
    "nib",
    "npwp",
    "community_type",
    "rt_number",
    "rw_number",
    "sk_number",
    "kelurahan",
    "address",
    "contact_name",
    "contact_email",
    "contact_phone",
    "website",
]


def partner_group(partner: Partner, role: str) -> Group:
    return Group.objects.get_or_create(name=f"partner:{partner.pk}:{role}")[0]


def _check_identity(partner: Partner) -> None:
    """Legal entities carry NIB and NPWP; community groups carry type, RT/RW and decree."""
    partner.npwp = normalize_npwp(partner.npwp)
    errors: dict[str, list[str]] = {}
    required_msg = _("This field is required for this kind of partner.")
    if partner.kind in LEGAL_ENTITY_KINDS:
        for field in ("legal_name", "nib", "npwp"):
            if not getattr(partner, field):
                errors[field] = [required_msg]
        partner.community_type = partner.rt_number = partner.rw_number = partner.sk_number = ""
    elif partner.kind == PartnerKind.COMMUNITY:
        for field in ("community_type", "rw_number", "sk_number"):
            if not getattr(partner, field):
                errors[field] = [required_msg]
        for field in ("rt_number", "rw_number"):
            value = getattr(partner, field)
            if value and not (value.isdigit() and len(value) <= 3):
                errors[field] = [_("Use up to three digits, e.g. 005.")]
        partner.nib = partner.npwp = ""
    if partner.kelurahan_id and partner.kelurahan.level != "village":
        errors["kelurahan"] = [_("Choose a kelurahan.")]
    # Checked here for a clear message on "nib" (full_clean would only name the constraint);
    # the unique constraint still settles a race (IntegrityError in the callers).
    if partner.nib and Partner.objects.filter(nib=partner.nib).exclude(pk=partner.pk).exists():
        errors.setdefault("nib", [_("A partner with this NIB is already registered.")])
    if errors:
        field, messages = next(iter(errors.items()))
        raise ServiceError(messages[0], field=field, errors=errors)
    full_clean_or_raise(partner, exclude=["created_by"])


@transaction.atomic
def partner_register(*, user, **fields) -> Partner:
    """Register an organisation; the registering user becomes its owner."""
    unknown = set(fields) - set(PARTNER_FIELDS)
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(sorted(unknown))}")
    partner = Partner(created_by=user, **fields)
    _check_identity(partner)
    try:
        with transaction.atomic():
            partner.save()
    except IntegrityError:
        raise ServiceError(
            _("A partner with this NIB is already registered."), field="nib"
        ) from None
    for role, perms in ROLE_PERMISSIONS.items():
        group = partner_group(partner, role)
        for perm in perms:
            assign_perm(f"partners.{perm}", group, partner)
    membership_add(partner=partner, user=user, role=MemberRole.OWNER)
    return partner


@transaction.atomic
def partner_update(*, partner: Partner, actor, **fields) -> Partner:
    require_partner_perm(
        actor,
        partner,
        "partners.change_partner",
        _("Only the partner's owners can edit its details."),
    )
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    identity_fields = {"kind", "nib", "npwp", "legal_name"}
    if locked.status == PartnerStatus.VERIFIED and identity_fields & {
        name for name, value in fields.items() if getattr(locked, name) != value
    }:
        raise ServiceError(
            _("A verified partner's legal identity can only be changed by a Kominfotik officer.")
        )
    for name, value in fields.items():
        if name not in PARTNER_FIELDS:
            raise ServiceError(f"Unknown field: {name}")
        setattr(locked, name, value)
    _check_identity(locked)
    try:
        with transaction.atomic():
            locked.save()
    except IntegrityError:
        raise ServiceError(
            _("A partner with this NIB is already registered."), field="nib"
        ) from None
    return locked


def _require_officer_for(actor, partner: Partner) -> None:
    if is_city_officer(actor):
        return
    if is_sudin_officer(actor) and partner.kelurahan.parent.parent_id == actor.kota_id:
        return
    raise PermissionDenied(_("Only a Kominfotik officer can decide on a partner's verification."))


def _partner_transition(
    *, partner: Partner, actor, to: str, reason: str, allowed=PARTNER_TRANSITIONS
) -> Partner:
    _require_officer_for(actor, partner)
    if not reason.strip():
        raise ServiceError(_("Give a reason for this decision."), field="reason")
    partner = transition(
        instance=partner,
        to=to,
        allowed=allowed,
        log_model=PartnerStatusChange,
        log_fields={"partner": partner},
        actor=actor,
        reason=reason.strip(),
        extra={"status_changed_at": timezone.now()},
    )
    change = partner.status_changes.latest("created_at", "id")
    tasks.send_partner_status_email.delay_on_commit(change.pk)
    return partner


def partner_verify(*, partner: Partner, actor, reason: str) -> Partner:
    return _partner_transition(
        partner=partner, actor=actor, to=PartnerStatus.VERIFIED, reason=reason
    )


def partner_reject(*, partner: Partner, actor, reason: str) -> Partner:
    return _partner_transition(
        partner=partner, actor=actor, to=PartnerStatus.REJECTED, reason=reason
    )


def partner_suspend(*, partner: Partner, actor, reason: str) -> Partner:
    return _partner_transition(
        partner=partner, actor=actor, to=PartnerStatus.SUSPENDED, reason=reason
    )


def partner_reinstate(*, partner: Partner, actor, reason: str) -> Partner:
    # Only a suspended partner is reinstated: a registered one must go through verification.
    return _partner_transition(
        partner=partner,
        actor=actor,
        to=PartnerStatus.VERIFIED,
        reason=reason,
        allowed={PartnerStatus.SUSPENDED: {PartnerStatus.VERIFIED}},
    )


# --- Members --------------------------------------------------------------------------------


def membership_add(*, partner: Partner, user, role: str) -> Membership:
    """Make `user` a member with `role` (invitation acceptance, registration, demo data)."""
    membership = Membership.objects.create(partner=partner, user=user, role=role)
    user.groups.add(partner_group(partner, role))
    return membership


@transaction.atomic
def invitation_create(*, partner: Partner, actor, email: str, role: str) -> Invitation:
    require_partner_perm(
        actor,
        partner,
        "partners.manage_partner_members",
        _("Only the partner's owners can invite members."),
    )
    email = email.strip().lower()
    if role not in MemberRole.values:
        raise ServiceError(_("Unknown role."), field="role")
    if Membership.objects.filter(partner=partner, user__email__iexact=email).exists():
        raise ServiceError(_("This person is already a member."), field="email")
    invitation = Invitation(
        partner=partner,
        email=email,
        role=role,
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    full_clean_or_raise(invitation, exclude=["token", "expires_at", "partner"])
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        raise ServiceError(
            _("An invitation to this address is already pending."), field="email"
        ) from None
    tasks.send_invitation_email.delay_on_commit(invitation.pk)
    return invitation


@transaction.atomic
def invitation_accept(*, token, user) -> Membership:
    try:
        invitation = Invitation.objects.select_for_update().get(token=token)
    except (Invitation.DoesNotExist, ValueError, ValidationError):
        raise ServiceError(_("This invitation link is not valid."), code="not_found") from None
    if invitation.accepted_at or invitation.revoked_at:
        raise ServiceError(_("This invitation has already been used or was withdrawn."))
    if invitation.expires_at <= timezone.now():
        raise ServiceError(_("This invitation has expired. Ask for a new one."))
    if invitation.email.lower() != user.email.lower():
        raise PermissionDenied(
            _("This invitation was sent to another email address. Sign in as %(email)s.")
            % {"email": invitation.email}
        )
    if Membership.objects.filter(partner=invitation.partner, user=user).exists():
        raise ServiceError(_("You are already a member of this partner."))
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership_add(partner=invitation.partner, user=user, role=invitation.role)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> Invitation:
    require_partner_perm(
        actor,
        invitation.partner,
        "partners.manage_partner_members",
        _("Only the partner's owners can withdraw invitations."),
    )
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise ServiceError(_("This invitation has already been used or was withdrawn."))
    invitation.refresh_from_db()
    return invitation


def invitations_expire() -> int:
    """Withdraw pending invitations past their expiry; returns how many."""
    return Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=timezone.now()
    ).update(revoked_at=timezone.now())


def _owner_count(partner: Partner) -> int:
    return Membership.objects.filter(partner=partner, role=MemberRole.OWNER).count()


@transaction.atomic
def membership_change_role(*, membership: Membership, actor, role: str) -> Membership:
    partner = Partner.objects.select_for_update().get(pk=membership.partner_id)
    require_partner_perm(
        actor,
        partner,
        "partners.manage_partner_members",
        _("Only the partner's owners can change roles."),
    )
    if role not in MemberRole.values:
        raise ServiceError(_("Unknown role."), field="role")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if (
        membership.role == MemberRole.OWNER
        and role != MemberRole.OWNER
        and _owner_count(partner) == 1
    ):
        raise ServiceError(_("A partner must keep at least one owner."))
    membership.user.groups.remove(partner_group(partner, membership.role))
    membership.role = role
    membership.save(update_fields=["role"])
    membership.user.groups.add(partner_group(partner, role))
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    # Lock the partner so two owners removing each other cannot leave it ownerless.
    partner = Partner.objects.select_for_update().get(pk=membership.partner_id)
    if membership.user_id != actor.pk:
        require_partner_perm(
            actor,
            partner,
            "partners.manage_partner_members",
            _("Only the partner's owners can remove members."),
        )
    if membership.role == MemberRole.OWNER and _owner_count(partner) == 1:
        raise ServiceError(_("A partner must keep at least one owner."))
    membership.user.groups.remove(partner_group(partner, membership.role))
    membership.delete()


# --- Documents ------------------------------------------------------------------------------


@transaction.atomic
def document_upload(*, partner: Partner, actor, kind: str, upload: UploadedFile) -> PartnerDocument:
    require_partner_perm(
        actor,
        partner,
        "partners.manage_partner_documents",
        _("You cannot upload documents for this partner."),
    )
    document = PartnerDocument(partner=partner, kind=kind, uploaded_by=actor)
    return store_pdf(record=document, upload=upload)


# --- Camera networks ------------------------------------------------------------------------


def _parse_network(cidr: str) -> str:
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=True)
    except ValueError:
        raise ServiceError(
            _("Enter a network in CIDR form with no host bits set, e.g. 10.20.0.0/24."),
            field="cidr",
        ) from None
    minimum_prefix = 16 if network.version == 4 else 48
    if network.prefixlen < minimum_prefix:
        raise ServiceError(
            _("The network is too large: the prefix must be /%(n)d or longer.")
            % {"n": minimum_prefix},
            field="cidr",
        )
    if (
        network.is_loopback
        or network.is_link_local
        or network.is_multicast
        or (network.is_unspecified)
    ):
        raise ServiceError(
            _("Loopback, link-local, multicast and unspecified addresses cannot host cameras."),
            field="cidr",
        )
    return str(network)


def _parse_ports(ports: list[int]) -> list[int]:
    if not ports:
        raise ServiceError(_("List at least one port."), field="ports")
    # Checked before sorting: a mix of str and int would not even sort (TypeError, a 500).
    if any(not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= 65535 for p in ports):
        raise ServiceError(_("Ports must be whole numbers from 1 to 65535."), field="ports")
    return sorted(set(ports))


@transaction.atomic
def network_request(
    *, partner: Partner, actor, cidr: str, ports: list[int], description: str = ""
) -> CameraNetwork:
    require_partner_perm(
        actor,
        partner,
        "partners.manage_partner_networks",
        _("You cannot propose networks for this partner."),
    )
    cidr = _parse_network(cidr)
    ports = _parse_ports(ports)
    if CameraNetwork.objects.filter(
        partner=partner, cidr=cidr, status__in=[NetworkStatus.PENDING, NetworkStatus.APPROVED]
    ).exists():
        raise ServiceError(_("This network is already pending or approved."), field="cidr")
    network = CameraNetwork.objects.create(
        partner=partner,
        cidr=cidr,
        ports=ports,
        description=description.strip(),
        requested_by=actor,
    )
    CameraNetworkStatusChange.objects.create(
        network=network,
        actor=actor,
        old_status="",
        new_status=NetworkStatus.PENDING,
        reason=description.strip(),
    )
    return network


def _network_transition(*, network: CameraNetwork, actor, to: str, reason: str) -> CameraNetwork:
    # Same scope as verification: a Sudin officer decides only for partners in their kota.
    if not is_officer(actor) or (
        is_sudin_officer(actor) and network.partner.kelurahan.parent.parent_id != actor.kota_id
    ):
        raise PermissionDenied(_("Only a Kominfotik officer can decide on camera networks."))
    if to != NetworkStatus.APPROVED and not reason.strip():
        raise ServiceError(_("Give a reason for this decision."), field="reason")
    if to == NetworkStatus.APPROVED and network.partner.status != PartnerStatus.VERIFIED:
        raise ServiceError(_("Verify the partner before approving its networks."))
    return transition(
        instance=network,
        to=to,
        allowed=NETWORK_TRANSITIONS,
        log_model=CameraNetworkStatusChange,
        log_fields={"network": network},
        actor=actor,
        reason=reason.strip(),
        extra={"decided_at": timezone.now()},
    )


def network_approve(*, network: CameraNetwork, actor, reason: str = "") -> CameraNetwork:
    return _network_transition(
        network=network, actor=actor, to=NetworkStatus.APPROVED, reason=reason
    )


def network_reject(*, network: CameraNetwork, actor, reason: str) -> CameraNetwork:
    return _network_transition(
        network=network, actor=actor, to=NetworkStatus.REJECTED, reason=reason
    )


def network_revoke(*, network: CameraNetwork, actor, reason: str) -> CameraNetwork:
    return _network_transition(
        network=network, actor=actor, to=NetworkStatus.REVOKED, reason=reason
    )
