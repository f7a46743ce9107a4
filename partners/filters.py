"""Query-string filters for the partner API.

A partner is filtered by its id as a plain number, never a ModelChoiceFilter: that would answer
400 for a missing id and 200 for another partner's id, telling a stranger which ids exist.
"""

import django_filters

from partners.models import (
    CameraNetwork,
    DocumentKind,
    Invitation,
    Membership,
    NetworkStatus,
    Partner,
    PartnerDocument,
    PartnerKind,
    PartnerStatus,
)


class PartnerFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=PartnerKind.choices)
    status = django_filters.ChoiceFilter(choices=PartnerStatus.choices)
    kelurahan = django_filters.CharFilter(
        field_name="kelurahan__code", label="Kelurahan (Kemendagri code, e.g. 31.71.01.1001)"
    )
    kota = django_filters.CharFilter(
        field_name="kelurahan__parent__parent__code", label="Kota (Kemendagri code, e.g. 31.71)"
    )

    class Meta:
        model = Partner
        fields = ["kind", "status", "kelurahan", "kota"]


class MembershipFilter(django_filters.FilterSet):
    partner = django_filters.NumberFilter(field_name="partner_id")

    class Meta:
        model = Membership
        fields = ["partner"]


class InvitationFilter(django_filters.FilterSet):
    partner = django_filters.NumberFilter(field_name="partner_id")

    class Meta:
        model = Invitation
        fields = ["partner"]


class DocumentFilter(django_filters.FilterSet):
    partner = django_filters.NumberFilter(field_name="partner_id")
    kind = django_filters.ChoiceFilter(choices=DocumentKind.choices)

    class Meta:
        model = PartnerDocument
        fields = ["partner", "kind"]


class CameraNetworkFilter(django_filters.FilterSet):
    partner = django_filters.NumberFilter(field_name="partner_id")
    status = django_filters.ChoiceFilter(choices=NetworkStatus.choices)

    class Meta:
        model = CameraNetwork
        fields = ["partner", "status"]
