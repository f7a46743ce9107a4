"""Maintenance tickets, their SLA clocks, and the breaches a missed clock or target leaves behind.

Tickets open by hand or from the health checker's status-change rows (sites.CameraStatusChange,
read as an outbox); they are routed to the party the active contract makes responsible.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import StatusChange


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved (awaiting check)")
    VERIFIED = "verified", _("Verified")
    REOPENED = "reopened", _("Reopened")
    CANCELLED = "cancelled", _("Cancelled")


TICKET_TRANSITIONS = {
    TicketStatus.OPEN: {
        TicketStatus.ACKNOWLEDGED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.RESOLVED,
        TicketStatus.CANCELLED,
    },
    TicketStatus.ACKNOWLEDGED: {
        TicketStatus.IN_PROGRESS,
        TicketStatus.RESOLVED,
        TicketStatus.CANCELLED,
    },
    TicketStatus.IN_PROGRESS: {TicketStatus.RESOLVED, TicketStatus.CANCELLED},
    # The next health check (or an officer, for tickets without a camera) settles a resolution.
    TicketStatus.RESOLVED: {TicketStatus.VERIFIED, TicketStatus.REOPENED},
    TicketStatus.REOPENED: {
        TicketStatus.IN_PROGRESS,
        TicketStatus.RESOLVED,
        TicketStatus.CANCELLED,
    },
    TicketStatus.VERIFIED: set(),
    TicketStatus.CANCELLED: set(),
}

# Tickets someone still has to work on; the repair clock runs while a ticket is in one of these.
ACTIVE_TICKET_STATUSES = {
    TicketStatus.OPEN,
    TicketStatus.ACKNOWLEDGED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.REOPENED,
}


class TicketSource(models.TextChoices):
    HEALTH = "health", _("Camera went down (health check)")
    UPSTREAM = "upstream", _("Upstream incident (health check)")
    OFFICER = "officer", _("Opened by an officer")
    PARTNER = "partner", _("Opened by the partner")
    RESIDENT = "resident", _("Resident's report")
    INSPECTION = "inspection", _("Scheduled inspection")


class MaintenanceTicket(models.Model):
    """Work a partner owes on a site or camera, with the clocks its contract sets."""

    scope_partner_path = "responsible"
    # The host sees work at its site (it may have opened the ticket itself); only the
    # responsible party works on it.
    scope_partner_paths = ("responsible", "site__host_partner")
    scope_kota_path = "site__kelurahan__parent__parent"

    reference = models.CharField(_("reference"), max_length=24, unique=True)
    source = models.CharField(_("source"), max_length=12, choices=TicketSource.choices)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="tickets", verbose_name=_("site")
    )
    camera = models.ForeignKey(
        "sites.Camera",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("camera"),
    )
    # Routing: the contract in force when the ticket opened and the party it makes responsible
    # (no contract: the site's host).
    contract = models.ForeignKey(
        "contracts.Contract",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("contract"),
    )
    responsible = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="tickets",
        verbose_name=_("responsible party"),
    )
    # What opened it. One outage, one upstream incident, one status-change row: one ticket each,
    # enforced by the unique constraints below even when two workers read the same change.
    status_change = models.OneToOneField(
        "sites.CameraStatusChange",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ticket",
    )
    outage = models.OneToOneField(
        "sites.Outage", on_delete=models.PROTECT, null=True, blank=True, related_name="ticket"
    )
    upstream_incident = models.OneToOneField(
        "sites.UpstreamIncident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ticket",
    )
    obligation = models.ForeignKey(
        "contracts.Obligation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspection_tickets",
        help_text=_("The inspection obligation this ticket fulfils."),
    )
    # A resident's coverage/fault report reference, when one led to the ticket.
    resident_report = models.CharField(_("resident report"), max_length=32, blank=True)

    status = models.CharField(
        _("status"),
        max_length=16,
        choices=TicketStatus.choices,
        default=TicketStatus.OPEN,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField(_("opened"), db_index=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    # SLA clocks from the contract's obligations (empty: no clock for this ticket).
    acknowledge_due_at = models.DateTimeField(_("acknowledge by"), null=True, blank=True)
    repair_due_at = models.DateTimeField(_("repair by"), null=True, blank=True)
    # Each reminder/escalation goes out once; set by a conditional UPDATE so two workers can't
    # both send it.
    acknowledge_reminded_at = models.DateTimeField(null=True, blank=True)
    repair_reminded_at = models.DateTimeField(null=True, blank=True)
    acknowledge_escalated_at = models.DateTimeField(null=True, blank=True)
    repair_escalated_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["responsible", "status"], name="ticket_responsible_status"),
            models.Index(fields=["status", "repair_due_at"], name="ticket_status_repair_due"),
        ]
        constraints = [
            # Never two working tickets of the same inspection obligation for the same site.
            models.UniqueConstraint(
                fields=["obligation", "site"],
                condition=models.Q(status__in=["open", "acknowledged", "in_progress", "reopened"]),
                name="ticket_one_open_inspection",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class TicketEvent(StatusChange):
    """One step of a ticket (append-only): transitions, notes and what the health check saw."""

    ticket = models.ForeignKey(MaintenanceTicket, on_delete=models.PROTECT, related_name="events")

    class Meta(StatusChange.Meta):
        pass


def _evidence_path(instance, filename: str) -> str:
    return f"ticket-evidence/{uuid.uuid4().hex}.{instance.extension}"


class TicketEvidence(models.Model):
    """A photo (JPEG/PNG, re-encoded without metadata) someone attached to a ticket."""

    ticket = models.ForeignKey(MaintenanceTicket, on_delete=models.PROTECT, related_name="evidence")
    file = models.FileField(upload_to=_evidence_path, max_length=200)
    extension = models.CharField(max_length=4)
    note = models.CharField(_("note"), max_length=300, blank=True)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ticket_id", "uploaded_at", "id"]
        verbose_name_plural = "ticket evidence"

    def __str__(self) -> str:
        return f"evidence {self.pk} on {self.ticket_id}"


class BreachKind(models.TextChoices):
    ACKNOWLEDGE_LATE = "acknowledge_late", _("Not acknowledged in time")
    REPAIR_LATE = "repair_late", _("Not repaired in time")
    UPTIME_BELOW = "uptime_below", _("Monthly uptime below target")
    INSPECTION_MISSED = "inspection_missed", _("Inspection not done in time")


class Breach(models.Model):
    """A missed obligation on a contract, with the evidence: times, measured value, outages."""

    scope_partner_path = "responsible"
    scope_kota_path = "contract__kota"

    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="breaches"
    )
    obligation = models.ForeignKey(
        "contracts.Obligation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    responsible = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="breaches"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=BreachKind.choices)
    ticket = models.ForeignKey(
        MaintenanceTicket, on_delete=models.PROTECT, null=True, blank=True, related_name="breaches"
    )
    camera = models.ForeignKey(
        "sites.Camera", on_delete=models.PROTECT, null=True, blank=True, related_name="breaches"
    )
    # Uptime breaches: the first day of the month evaluated.
    period = models.DateField(_("month"), null=True, blank=True)
    due_at = models.DateTimeField(_("was due"), null=True, blank=True)
    detected_at = models.DateTimeField(_("detected"))
    target = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    measured = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    # Times, outage ids and durations that prove the breach, as recorded when it was found.
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name_plural = "breaches"
        constraints = [
            # Each clock of a ticket breaches once; each camera misses a month's target once.
            models.UniqueConstraint(
                fields=["ticket", "kind"],
                condition=models.Q(ticket__isnull=False),
                name="breach_once_per_ticket_clock",
            ),
            models.UniqueConstraint(
                fields=["obligation", "camera", "period"],
                condition=models.Q(kind="uptime_below"),
                name="breach_once_per_camera_month",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.contract}"


class SlaEvaluation(models.Model):
    """A contract's monthly SLA evaluation ran (once per contract and month)."""

    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.CASCADE, related_name="sla_evaluations"
    )
    month = models.DateField()
    evaluated_at = models.DateTimeField()
    cameras = models.PositiveIntegerField(default=0)
    cameras_below_target = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-month", "contract_id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "month"], name="sla_evaluation_once"),
        ]

    def __str__(self) -> str:
        return f"{self.contract} {self.month:%Y-%m}"


class OutboxCursor(models.Model):
    """How far a reader of an outbox table has got (the last row id it handled)."""

    name = models.CharField(max_length=40, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_id}"
