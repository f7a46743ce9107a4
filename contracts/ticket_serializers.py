"""Shapes of the maintenance-tickets API.

Input serializers only check the shape; contracts.ticket_services owns the rules (who may act,
which steps are legal, what a photo must be) and names the field it refuses.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contracts import ticket_selectors
from contracts.models import (
    MaintenanceTicket,
    TicketEvent,
    TicketEvidence,
    TicketSource,
    TicketStatus,
)
from partners.serializers import UserRefSerializer
from sites.serializers import AreaRefSerializer

TICKET_ACTIONS = ["acknowledge", "start", "resolve", "note", "verify", "reopen", "cancel"]


class PartnerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class ContractRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)


class TicketSiteSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    address = serializers.CharField(read_only=True)
    kelurahan = AreaRefSerializer(read_only=True)


class TicketCameraSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    vendor = serializers.CharField(read_only=True)
    model = serializers.CharField(read_only=True)
    serial = serializers.CharField(read_only=True)


class TicketClockSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=["acknowledge", "repair"], read_only=True)
    due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    done_at = serializers.DateTimeField(read_only=True, allow_null=True)
    state = serializers.ChoiceField(choices=["none", "running", "met", "missed"], read_only=True)
    remaining_seconds = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_("Seconds left on a running clock; negative once it is overdue."),
    )


class TicketSerializer(serializers.ModelSerializer):
    """A ticket in a list: what, where, who must act, and the state of its clocks."""

    site = TicketSiteSerializer(read_only=True)
    camera = TicketCameraSerializer(read_only=True, allow_null=True)
    responsible = PartnerRefSerializer(read_only=True)
    contract = ContractRefSerializer(read_only=True, allow_null=True)
    clocks = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceTicket
        fields = [
            "id",
            "reference",
            "source",
            "title",
            "status",
            "site",
            "camera",
            "responsible",
            "contract",
            "opened_at",
            "acknowledged_at",
            "resolved_at",
            "verified_at",
            "acknowledge_due_at",
            "repair_due_at",
            "reopen_count",
            "clocks",
        ]
        read_only_fields = fields

    @extend_schema_field(TicketClockSerializer(many=True))
    def get_clocks(self, ticket: MaintenanceTicket) -> list[dict]:
        # One serializer for every ticket of a page: building one per ticket (its fields deep-
        # copied each time) made enough garbage for full GC pauses every few list calls.
        return [
            _CLOCK.to_representation(clock)
            for clock in ticket_selectors.ticket_clocks(ticket=ticket)
        ]


_CLOCK = TicketClockSerializer()


class TicketEventSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TicketEvent
        fields = ["id", "actor", "old_status", "new_status", "reason", "created_at"]
        read_only_fields = fields


class TicketEvidenceSerializer(serializers.ModelSerializer):
    uploaded_by = UserRefSerializer(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = TicketEvidence
        fields = [
            "id",
            "extension",
            "note",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, evidence: TicketEvidence) -> str:
        return reverse("ticket-evidence", args=[evidence.ticket_id, evidence.pk])


class TicketDetailSerializer(TicketSerializer):
    """One ticket with its history, evidence and what the requesting user may do now."""

    opened_by = UserRefSerializer(read_only=True, allow_null=True)
    events = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [
            *TicketSerializer.Meta.fields,
            "description",
            "resident_report",
            "opened_by",
            "status_changed_at",
            "outage",
            "upstream_incident",
            "obligation",
            "events",
            "evidence",
            "actions",
        ]
        read_only_fields = fields

    @extend_schema_field(TicketEventSerializer(many=True))
    def get_events(self, ticket: MaintenanceTicket) -> list[dict]:
        return TicketEventSerializer(ticket_selectors.ticket_events(ticket=ticket), many=True).data

    @extend_schema_field(TicketEvidenceSerializer(many=True))
    def get_evidence(self, ticket: MaintenanceTicket) -> list[dict]:
        rows = ticket_selectors.ticket_evidence(ticket=ticket)
        return TicketEvidenceSerializer(rows, many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(TICKET_ACTIONS)))
    def get_actions(self, ticket: MaintenanceTicket) -> list[str]:
        """The steps the requesting user may take now (POST /api/tickets/{id}/<action>/)."""
        request = self.context.get("request")
        if request is None:
            return []
        return ticket_selectors.ticket_actions(ticket=ticket, user=request.user)


# --- Input ----------------------------------------------------------------------------------


class TicketFilterSerializer(serializers.Serializer):
    """Query parameters of the ticket list."""

    status = serializers.ChoiceField(
        choices=[("active", _("Still being worked on")), *TicketStatus.choices],
        required=False,
    )
    source = serializers.ChoiceField(choices=TicketSource.choices, required=False)
    responsible = serializers.IntegerField(required=False, help_text=_("Partner id."))
    kota = serializers.IntegerField(required=False, help_text=_("Area id of a kota."))
    contract = serializers.IntegerField(required=False)
    overdue = serializers.BooleanField(required=False, default=False)
    q = serializers.CharField(required=False, max_length=200)


class TicketCreateSerializer(serializers.Serializer):
    site = serializers.IntegerField()
    camera = serializers.IntegerField(required=False, allow_null=True, default=None)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    resident_report = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=32,
        help_text=_("Reference of the resident's report that led to the ticket."),
    )


class TicketNoteSerializer(serializers.Serializer):
    # Optional here; the service says when a step needs one.
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class TicketNotePhotoSerializer(TicketNoteSerializer):
    photo = serializers.FileField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("A JPEG or PNG photo; stored re-encoded, without its metadata."),
    )
