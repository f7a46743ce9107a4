"""Fleet health: each camera's latest state, the sweeps that check them, state changes, outages.

The checker never writes a row per probe: it keeps the latest state per camera, appends one row
per change of state (an outbox that `contracts` reads to open tickets) and one row per outage.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import StatusChange
from sites.models.inventory import Camera


class HealthStatus(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    UP = "up", _("Up")
    DEGRADED = "degraded", _("Degraded")
    DOWN = "down", _("Down")
    MAINTENANCE = "maintenance", _("In maintenance")
    UPSTREAM_DOWN = "upstream_down", _("Upstream down")


class SweepStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    EXPIRED = "expired", _("Expired")


class HealthSweep(models.Model):
    """One pass over every camera that is due; batches are probed by Celery workers."""

    started_at = models.DateTimeField(db_index=True)
    deadline = models.DateTimeField(
        help_text=_("After this the sweep is expired, finished or not.")
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=SweepStatus.choices, default=SweepStatus.RUNNING, db_index=True
    )
    cameras = models.PositiveIntegerField(default=0)
    batches = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    checks = models.PositiveIntegerField(default=0)
    changes = models.PositiveIntegerField(default=0)
    probe_ms = models.PositiveBigIntegerField(default=0)
    db_write_ms = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # Sweeps never overlap: at most one is running at any time.
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="running"),
                name="healthsweep_one_running",
            ),
        ]

    def __str__(self) -> str:
        return f"sweep {self.pk} ({self.status})"


class SweepBatch(models.Model):
    """A batch of one sweep; its row makes running the same batch twice a no-op."""

    sweep = models.ForeignKey(HealthSweep, on_delete=models.CASCADE, related_name="batch_rows")
    number = models.PositiveIntegerField()
    first_camera_id = models.BigIntegerField()
    last_camera_id = models.BigIntegerField()
    cameras = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sweep_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["sweep", "number"], name="sweepbatch_unique"),
        ]

    def __str__(self) -> str:
        return f"sweep {self.sweep_id} batch {self.number}"


class CameraHealth(models.Model):
    """A camera's latest known state and the counters flap damping needs (one row per camera)."""

    scope_partner_path = "camera__owner"
    scope_kota_path = "camera__site__kelurahan__parent__parent"

    camera = models.OneToOneField(
        Camera, on_delete=models.CASCADE, primary_key=True, related_name="health"
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=HealthStatus.choices,
        default=HealthStatus.UNKNOWN,
        db_index=True,
    )
    reason = models.CharField(_("reason"), max_length=24, blank=True)
    changed_at = models.DateTimeField(_("status since"), null=True, blank=True)
    checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    # The raw outcome of the last probe, before damping.
    observed = models.CharField(max_length=16, choices=HealthStatus.choices, blank=True)
    fail_streak = models.PositiveSmallIntegerField(default=0)
    ok_streak = models.PositiveSmallIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    image_hash = models.CharField(max_length=64, blank=True)
    image_checked_at = models.DateTimeField(null=True, blank=True)
    clock_checked_at = models.DateTimeField(null=True, blank=True)
    # The sweep that last wrote this row: a batch replayed for the same sweep changes nothing.
    last_sweep_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "camera health"

    def __str__(self) -> str:
        return f"{self.camera_id}: {self.status}"


class CameraStatusChange(StatusChange):
    """One change of a camera's health state (append-only; the outbox for tickets and alerts)."""

    scope_partner_path = "camera__owner"
    scope_kota_path = "camera__site__kelurahan__parent__parent"

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="status_changes")
    sweep = models.ForeignKey(
        HealthSweep, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta(StatusChange.Meta):
        indexes = [models.Index(fields=["camera", "created_at"], name="camerachange_camera_time")]


class Outage(models.Model):
    """A period a camera was down: opened when it goes down, closed when it comes back."""

    scope_partner_path = "camera__owner"
    scope_kota_path = "camera__site__kelurahan__parent__parent"

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="outages")
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=24, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["camera"],
                condition=models.Q(ended_at__isnull=True),
                name="outage_one_open_per_camera",
            ),
        ]

    def __str__(self) -> str:
        return f"camera {self.camera_id} down since {self.started_at:%Y-%m-%d %H:%M}"
