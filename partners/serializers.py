"""Shapes of the partner API. Input serializers only validate; the views call the services.

Input fields are deliberately loose where a service owns the rule (NIB and NPWP digits, CIDR,
ports, reasons): the service's message is the one users see, with the field named.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from partners.models import (
    CameraNetwork,
    CommunityType,
    DocumentKind,
    Invitation,
    MemberRole,
    Membership,
    Partner,
    PartnerDocument,
    PartnerKind,
)

# partners never imports sites: reach the area model through the foreign key instead.
_KELURAHAN_FIELD = Partner._meta.get_field("kelurahan")


def _kelurahan_queryset():
    return _KELURAHAN_FIELD.related_model.objects.filter(**_KELURAHAN_FIELD.get_limit_choices_to())


class PartnerAreaSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    full_name = serializers.CharField(read_only=True)


# --- Partners -------------------------------------------------------------------------------


class PartnerSerializer(serializers.ModelSerializer):
    kelurahan = PartnerAreaSerializer(read_only=True)
    kecamatan = PartnerAreaSerializer(source="kelurahan.parent", read_only=True)
    kota = PartnerAreaSerializer(source="kelurahan.parent.parent", read_only=True)

    class Meta:
        model = Partner
        fields = [
            "id",
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
            "kecamatan",
            "kota",
            "address",
            "contact_name",
            "contact_email",
            "contact_phone",
            "website",
            "status",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PartnerWriteSerializer(serializers.Serializer):
    """Registration and edits. Which identity fields are required depends on `kind`."""

    kind = serializers.ChoiceField(choices=PartnerKind.choices)
    name = serializers.CharField(max_length=200)
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    nib = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text=_("Legal entities: 13 digits.")
    )
    npwp = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text=_("Legal entities: 16 digits; dots and dashes allowed."),
    )
    community_type = serializers.ChoiceField(
        choices=CommunityType.choices, required=False, allow_blank=True
    )
    rt_number = serializers.CharField(max_length=3, required=False, allow_blank=True)
    rw_number = serializers.CharField(max_length=3, required=False, allow_blank=True)
    sk_number = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text=_("Community groups: the decree (SK) number."),
    )
    kelurahan = serializers.SlugRelatedField(
        slug_field="code",
        queryset=_kelurahan_queryset(),
        help_text=_("Kemendagri code of the kelurahan, e.g. 31.71.01.1001."),
    )
    address = serializers.CharField()
    contact_name = serializers.CharField(max_length=150)
    contact_email = serializers.EmailField()
    contact_phone = serializers.CharField(max_length=20)
    website = serializers.URLField(required=False, allow_blank=True)


class StatusChangeSerializer(serializers.Serializer):
    """One row of a lifecycle history (partner or camera network)."""

    actor_name = serializers.SerializerMethodField()
    old_status = serializers.CharField(read_only=True)
    new_status = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_actor_name(self, change) -> str:
        return str(change.actor) if change.actor_id else ""


class ReasonSerializer(serializers.Serializer):
    # Optional here so that the service, which knows which decisions need one, names the rule.
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


# --- Members and invitations ----------------------------------------------------------------


class MembershipSerializer(serializers.ModelSerializer):
    user = UserRefSerializer(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "partner", "partner_name", "user", "email", "role", "created_at"]
        read_only_fields = fields


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=MemberRole.choices)


class InvitationSerializer(serializers.ModelSerializer):
    """The token is the secret in the emailed link: it never appears in the API."""

    invited_by = UserRefSerializer(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "partner", "email", "role", "invited_by", "created_at", "expires_at"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    partner = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=MemberRole.choices)


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.UUIDField()


# --- Documents ------------------------------------------------------------------------------


class DocumentSerializer(serializers.ModelSerializer):
    """Metadata only: where the file is stored is none of the client's business."""

    uploaded_by = UserRefSerializer(read_only=True)
    download_url = serializers.HyperlinkedIdentityField(view_name="document-download")

    class Meta:
        model = PartnerDocument
        fields = [
            "id",
            "partner",
            "kind",
            "original_name",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer):
    partner = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    file = serializers.FileField(help_text=_("A PDF document."))


# --- Camera networks ------------------------------------------------------------------------


class CameraNetworkSerializer(serializers.ModelSerializer):
    class Meta:
        model = CameraNetwork
        fields = [
            "id",
            "partner",
            "cidr",
            "ports",
            "description",
            "status",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class CameraNetworkRequestSerializer(serializers.Serializer):
    partner = serializers.IntegerField()
    cidr = serializers.CharField(max_length=64, help_text=_("e.g. 10.20.0.0/24"))
    ports = serializers.ListField(child=serializers.IntegerField(), allow_empty=True)
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
