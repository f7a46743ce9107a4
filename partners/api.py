# Placeholder: the API helper replaces this module.
from rest_framework import viewsets

from partners.models import CameraNetwork, Invitation, Membership, Partner, PartnerDocument


class PartnerViewSet(viewsets.GenericViewSet):
    queryset = Partner.objects.none()


class MembershipViewSet(viewsets.GenericViewSet):
    queryset = Membership.objects.none()


class InvitationViewSet(viewsets.GenericViewSet):
    queryset = Invitation.objects.none()


class DocumentViewSet(viewsets.GenericViewSet):
    queryset = PartnerDocument.objects.none()


class CameraNetworkViewSet(viewsets.GenericViewSet):
    queryset = CameraNetwork.objects.none()
