"""Reads of partners and their children, always through the permission scope."""

from django.db.models import QuerySet

from partners.models import (
    CameraNetwork,
    Invitation,
    Membership,
    NetworkStatus,
    Partner,
    PartnerDocument,
    PartnerStatus,
)
from portal.permissions import scope_queryset


def partner_list(*, user, filters: dict | None = None) -> QuerySet[Partner]:
    partners = scope_queryset(user, Partner.objects.select_related("kelurahan__parent__parent"))
    return partners.filter(**(filters or {}))


def memberships_of(*, user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("partner")


def partner_members(*, user, partner: Partner) -> QuerySet[Membership]:
    return scope_queryset(user, Membership.objects.filter(partner=partner).select_related("user"))


def partner_invitations(*, user, partner: Partner) -> QuerySet[Invitation]:
    return scope_queryset(
        user,
        Invitation.objects.filter(
            partner=partner, accepted_at__isnull=True, revoked_at__isnull=True
        ),
    )


def partner_documents(*, user, partner: Partner | None = None) -> QuerySet[PartnerDocument]:
    documents = PartnerDocument.objects.select_related("partner", "uploaded_by")
    if partner is not None:
        documents = documents.filter(partner=partner)
    return scope_queryset(user, documents)


def partner_networks(*, user, partner: Partner | None = None) -> QuerySet[CameraNetwork]:
    networks = CameraNetwork.objects.select_related("partner")
    if partner is not None:
        networks = networks.filter(partner=partner)
    return scope_queryset(user, networks)


def partners_awaiting_verification(*, user) -> QuerySet[Partner]:
    return partner_list(user=user, filters={"status": PartnerStatus.REGISTERED}).order_by(
        "created_at"
    )


def networks_awaiting_approval(*, user) -> QuerySet[CameraNetwork]:
    return partner_networks(user=user).filter(status=NetworkStatus.PENDING).order_by("created_at")


def approved_networks_for(*, partner_id: int) -> QuerySet[CameraNetwork]:
    """The allowlist the health checker uses for one partner's cameras."""
    return CameraNetwork.objects.filter(partner_id=partner_id, status=NetworkStatus.APPROVED)
