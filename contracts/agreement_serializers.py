"""Shapes of the partnership agreements (PKS) API.

Input serializers only check the shape; contracts.agreement_services owns every rule (who may
act, what a draft needs, which transitions are legal) and names the field it refuses.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contracts.models import (
    Contract,
    ContractDocument,
    ContractParty,
    ContractSite,
    ContractStatusChange,
    DocumentKind,
    FundingShare,
    Obligation,
    ObligationKind,
    PartyRole,
    RenewalTerms,
    ShareKind,
)
from contracts.serializers import NamedRefSerializer
from partners.serializers import UserRefSerializer
from sites.serializers import AreaRefSerializer


class ContractPartySerializer(serializers.ModelSerializer):
    partner = NamedRefSerializer(read_only=True)

    class Meta:
        model = ContractParty
        fields = ["partner", "roles", "signatory", "signatory_title"]
        read_only_fields = fields


class ContractSerializer(serializers.ModelSerializer):
    """List shape: one contract version with its parties, site count and shares total."""

    kota = AreaRefSerializer(read_only=True, allow_null=True)
    parties = ContractPartySerializer(many=True, read_only=True)
    site_count = serializers.IntegerField(read_only=True)
    shares_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "version",
            "amends",
            "title",
            "status",
            "kota",
            "term_start",
            "term_end",
            "renewal",
            "total_value",
            "shares_total",
            "parties",
            "site_count",
            "signed_at",
            "status_changed_at",
            "created_at",
        ]
        read_only_fields = fields


class FundingShareSerializer(serializers.ModelSerializer):
    partner = NamedRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = FundingShare
        fields = ["id", "partner", "kind", "amount", "description"]
        read_only_fields = fields


class CoveredSiteRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    address = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    host_partner = NamedRefSerializer(read_only=True)
    kelurahan = AreaRefSerializer(read_only=True)
    kota = AreaRefSerializer(source="kelurahan.parent.parent", read_only=True)


class ContractSiteSerializer(serializers.ModelSerializer):
    site = CoveredSiteRefSerializer(read_only=True)
    camera_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContractSite
        fields = ["site", "in_force", "camera_count"]
        read_only_fields = fields


class ContractObligationSerializer(serializers.ModelSerializer):
    responsible = NamedRefSerializer(read_only=True)
    sites = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Obligation
        fields = ["id", "kind", "value", "responsible", "sites", "notes"]
        read_only_fields = fields


class ContractDocumentSerializer(serializers.ModelSerializer):
    """Metadata and, for those allowed to have the file, where to download it."""

    uploaded_by = UserRefSerializer(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ContractDocument
        fields = [
            "id",
            "kind",
            "original_name",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, document: ContractDocument) -> str | None:
        if not self.context.get("may_download"):
            return None
        path = reverse(
            "contract-document-download",
            kwargs={"pk": document.contract_id, "document_id": document.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ContractVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contract
        fields = ["id", "version", "status", "term_start", "term_end", "created_at"]
        read_only_fields = fields


class ContractDetailSerializer(ContractSerializer):
    application = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    shares = FundingShareSerializer(many=True, read_only=True)
    sites = ContractSiteSerializer(source="covered_sites", many=True, read_only=True)
    obligations = ContractObligationSerializer(many=True, read_only=True)
    documents = ContractDocumentSerializer(many=True, read_only=True)
    versions = serializers.SerializerMethodField()

    class Meta(ContractSerializer.Meta):
        fields = [
            *ContractSerializer.Meta.fields,
            "application",
            "first_party",
            "first_party_signatory",
            "first_party_signatory_title",
            "termination_reason",
            "shares",
            "sites",
            "obligations",
            "documents",
            "versions",
        ]
        read_only_fields = fields

    @extend_schema_field(ContractVersionSerializer(many=True))
    def get_versions(self, contract: Contract) -> list[dict]:
        """Every version of this number the caller may see, oldest first (from the view)."""
        versions = self.context.get("versions", [])
        return ContractVersionSerializer(versions, many=True).data


class ContractStatusChangeSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ContractStatusChange
        fields = ["id", "actor", "old_status", "new_status", "reason", "created_at"]
        read_only_fields = fields


class ContractCameraSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    site = serializers.IntegerField(source="site_id", read_only=True)
    site_address = serializers.CharField(source="site.address", read_only=True)
    owner = NamedRefSerializer(read_only=True)
    vendor = serializers.CharField(read_only=True)
    model = serializers.CharField(read_only=True)
    serial = serializers.CharField(read_only=True)


# --- Input ----------------------------------------------------------------------------------


class ContractWriteSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=60)
    title = serializers.CharField(max_length=200)
    term_start = serializers.DateField()
    term_end = serializers.DateField()
    # Raw on purpose: the service explains a negative or non-integer amount.
    total_value = serializers.JSONField(help_text=_("Rupiah, whole number ≥ 0."))
    first_party_signatory = serializers.CharField(max_length=150)
    first_party_signatory_title = serializers.CharField(max_length=150, required=False)
    renewal = serializers.ChoiceField(choices=RenewalTerms.choices, required=False)
    application = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("An approved application's id.")
    )
    kota = serializers.CharField(
        required=False, allow_null=True, max_length=13, help_text=_("Kemendagri code, e.g. 31.71.")
    )


class ContractUpdateSerializer(ContractWriteSerializer):
    application = None
    first_party = serializers.CharField(max_length=200, required=False)


class ContractFromApplicationSerializer(serializers.Serializer):
    application = serializers.IntegerField(help_text=_("An approved application's id."))


class ContractPartyInputSerializer(serializers.Serializer):
    partner = serializers.IntegerField(help_text=_("A verified partner's id."))
    roles = serializers.ListField(child=serializers.ChoiceField(choices=PartyRole.choices))
    signatory = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    signatory_title = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default=""
    )


class ContractShareInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ShareKind.choices)
    amount = serializers.JSONField(help_text=_("Rupiah, whole number > 0."))
    partner = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text=_("Empty for APBD.")
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class ContractSiteInputSerializer(serializers.Serializer):
    site = serializers.IntegerField(help_text=_("An approved, installing or active site's id."))


class ContractObligationInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ObligationKind.choices)
    # Raw on purpose: the service knows each kind's bounds and says which it broke.
    value = serializers.JSONField(required=False, allow_null=True, default=None)
    responsible = serializers.IntegerField(help_text=_("A party's partner id."))
    sites = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        default=list,
        help_text=_("Covered site ids; empty: every site the contract covers."),
    )
    notes = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ContractDocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("A PDF document."))
    kind = serializers.ChoiceField(
        choices=[
            (DocumentKind.DRAFT, DocumentKind.DRAFT.label),
            (DocumentKind.ANNEX, DocumentKind.ANNEX.label),
        ]
    )


class ContractSignInputSerializer(serializers.Serializer):
    signed_pdf = serializers.FileField(help_text=_("The signed agreement (PDF)."))
    signed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
