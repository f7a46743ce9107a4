"""Shapes of the programmes and hosting-applications API.

Input serializers only check the shape; the services own the rules (amounts, periods, who may
decide, which transitions are legal) and answer with the field named.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contracts.models import (
    ApplicationAttachment,
    ApplicationDecision,
    ApplicationSite,
    FundingSource,
    HostingApplication,
    Programme,
    ProgrammeStatusChange,
    ResponseTemplate,
)
from contracts.services import Decision
from partners.serializers import UserRefSerializer
from sites.models import HostKind
from sites.serializers import AreaRefSerializer


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


# --- Programmes -----------------------------------------------------------------------------


class ProgrammeSerializer(serializers.ModelSerializer):
    target_kelurahan = AreaRefSerializer(many=True, read_only=True)
    budget = serializers.SerializerMethodField()
    budget_total = serializers.SerializerMethodField()

    class Meta:
        model = Programme
        fields = [
            "id",
            "title",
            "rationale",
            "target_kelurahan",
            "camera_target",
            "period_start",
            "period_end",
            "budget",
            "budget_total",
            "status",
            "status_changed_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_budget(self, programme: Programme) -> dict[str, int]:
        """Rupiah by funding source (apbd, csr, partner_cash, in_kind)."""
        return {line.source: line.amount for line in programme.budget.all()}

    def get_budget_total(self, programme: Programme) -> int:
        return sum(line.amount for line in programme.budget.all())


class ProgrammeWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    rationale = serializers.CharField()
    target_kelurahan = serializers.ListField(
        child=serializers.CharField(max_length=13),
        help_text=_('Kemendagri codes of kelurahan, e.g. ["31.71.01.1001"].'),
    )
    camera_target = serializers.IntegerField(min_value=1)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    # Raw values on purpose: the service explains a negative or non-integer amount.
    budget = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text=_("Rupiah (whole numbers) by funding source: %(sources)s.")
        % {"sources": ", ".join(FundingSource.values)},
    )


class ProgrammeStatusChangeSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(read_only=True)

    class Meta:
        model = ProgrammeStatusChange
        fields = ["id", "actor", "old_status", "new_status", "reason", "created_at"]
        read_only_fields = fields


# --- Applications ---------------------------------------------------------------------------


class ApplicationSerializer(serializers.ModelSerializer):
    """List shape; `age_days` counts from submission and `overdue` compares it with the
    review deadline (REVIEW_DEADLINE_DAYS)."""

    applicant = NamedRefSerializer(read_only=True)
    programme = serializers.SerializerMethodField()
    kota = AreaRefSerializer(read_only=True, allow_null=True)
    site_count = serializers.IntegerField(read_only=True)
    camera_count = serializers.IntegerField(read_only=True)
    age_days = serializers.IntegerField(read_only=True, allow_null=True)
    overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = HostingApplication
        fields = [
            "id",
            "title",
            "status",
            "applicant",
            "programme",
            "kota",
            "cofunding_cash",
            "cofunding_in_kind",
            "cofunding_csr",
            "maintenance_commitment",
            "site_count",
            "camera_count",
            "submitted_at",
            "age_days",
            "overdue",
            "status_changed_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(NamedRefSerializer(allow_null=True))
    def get_programme(self, application: HostingApplication) -> dict | None:
        programme = application.programme
        return {"id": programme.pk, "name": programme.title} if programme else None


class CoApplicantSerializer(serializers.Serializer):
    """A co-applicant of a corridor application (input: a verified partner's id)."""

    partner = serializers.IntegerField()
    cost_share = serializers.IntegerField(default=0, help_text=_("Rupiah, whole number ≥ 0."))


class PartySerializer(serializers.Serializer):
    partner = serializers.IntegerField(source="partner_id", read_only=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    cost_share = serializers.IntegerField(read_only=True)


class SiteRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    lat = serializers.DecimalField(max_digits=9, decimal_places=6, read_only=True)
    lon = serializers.DecimalField(max_digits=9, decimal_places=6, read_only=True)
    address = serializers.CharField(read_only=True)
    host_kind = serializers.CharField(read_only=True)
    viewing_direction = serializers.IntegerField(read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)
    kelurahan = AreaRefSerializer(read_only=True)
    kecamatan = AreaRefSerializer(source="kelurahan.parent", read_only=True)
    kota = AreaRefSerializer(source="kelurahan.parent.parent", read_only=True)


class PoleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    owner = NamedRefSerializer(read_only=True)


class ApplicationSiteSerializer(serializers.ModelSerializer):
    """A candidate site of an application and, on another owner's pole, that owner's answer."""

    application_title = serializers.CharField(source="application.title", read_only=True)
    applicant = NamedRefSerializer(source="application.applicant", read_only=True)
    site = SiteRefSerializer(read_only=True)
    pole = PoleRefSerializer(source="site.pole", read_only=True, allow_null=True)

    class Meta:
        model = ApplicationSite
        fields = [
            "id",
            "application",
            "application_title",
            "applicant",
            "site",
            "pole",
            "cameras_planned",
            "pole_consent",
            "pole_consent_at",
        ]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    """Metadata only: where the file is stored is none of the client's business."""

    uploaded_by = UserRefSerializer(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ApplicationAttachment
        fields = [
            "id",
            "original_name",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, attachment: ApplicationAttachment) -> str:
        path = reverse(
            "application-attachment-download",
            kwargs={"pk": attachment.application_id, "attachment_id": attachment.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ApplicationDetailSerializer(ApplicationSerializer):
    co_applicants = PartySerializer(source="parties", many=True, read_only=True)
    candidate_sites = ApplicationSiteSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    submitted_by = UserRefSerializer(read_only=True, allow_null=True)
    technical_reviewer = UserRefSerializer(read_only=True, allow_null=True)

    class Meta(ApplicationSerializer.Meta):
        fields = [
            *ApplicationSerializer.Meta.fields,
            "co_applicants",
            "candidate_sites",
            "attachments",
            "submitted_by",
            "technical_reviewer",
        ]
        read_only_fields = fields


class ApplicationWriteSerializer(serializers.Serializer):
    applicant = serializers.IntegerField(help_text=_("Your partner's id."))
    title = serializers.CharField(max_length=200)
    programme = serializers.IntegerField(required=False, allow_null=True, default=None)
    # Raw values on purpose: the service explains a negative or non-integer amount.
    cofunding_cash = serializers.JSONField(required=False, default=0, help_text=_("Rupiah."))
    cofunding_in_kind = serializers.JSONField(required=False, default=0, help_text=_("Rupiah."))
    cofunding_csr = serializers.JSONField(required=False, default=0, help_text=_("Rupiah."))
    maintenance_commitment = serializers.CharField()
    co_applicants = CoApplicantSerializer(many=True, required=False, default=list)


class ApplicationUpdateSerializer(ApplicationWriteSerializer):
    applicant = None


class SiteAddSerializer(serializers.Serializer):
    lat = serializers.DecimalField(max_digits=12, decimal_places=8)
    lon = serializers.DecimalField(max_digits=12, decimal_places=8)
    address = serializers.CharField(max_length=300)
    host_kind = serializers.ChoiceField(choices=HostKind.choices)
    pole = serializers.IntegerField(required=False, allow_null=True, default=None)
    cameras_planned = serializers.IntegerField(default=1)
    viewing_direction = serializers.IntegerField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("A PDF document."))


class DecisionInputSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    template = serializers.SlugField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("A response template's code; its text opens the comment."),
    )


class ConsentInputSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ApplicationDecisionSerializer(serializers.ModelSerializer):
    """One recorded step: actor, time, step (old status), decision and comment."""

    actor = UserRefSerializer(read_only=True, allow_null=True)
    decision_label = serializers.SerializerMethodField()
    comment = serializers.CharField(source="reason", read_only=True)

    class Meta:
        model = ApplicationDecision
        fields = [
            "id",
            "actor",
            "old_status",
            "new_status",
            "decision",
            "decision_label",
            "comment",
            "created_at",
        ]
        read_only_fields = fields

    def get_decision_label(self, row: ApplicationDecision) -> str:
        return str(dict(Decision.choices).get(row.decision, row.decision))


class NextStepSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    text = serializers.CharField(read_only=True)
    done = serializers.BooleanField(read_only=True)


class ResponseTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResponseTemplate
        fields = ["code", "title", "body_id", "body_en"]
        read_only_fields = fields
