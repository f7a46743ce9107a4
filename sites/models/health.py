"""Fleet health: each camera's latest state, the sweeps that check them, state changes, outages.

The checker never writes a row per probe: it keeps the latest state per camera, appends one row
per change of state (an outbox that `contracts` reads to open tickets) and one row per outage.
"""

from django.conf import settings
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
        # A plain btree: status is matched by equality, never by LIKE (no varchar_pattern_ops
        # twin to maintain). Every sweep rewrites every row, so the table is kept at
        # fillfactor 50 (migration 0019): updates that leave status alone stay HOT and touch
        # no index at all.
        indexes = [models.Index(fields=["status"], name="camerahealth_status")]

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


class WindowRecurrence(models.TextChoices):
    NONE = "none", _("One-off")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")


class MaintenanceWindow(models.Model):
    """Planned work: no alerts, and the time does not count against availability.

    Applies to exactly one of a camera, a site, a partner's whole fleet or a kota. A recurring
    window repeats its first occurrence (starts_at → ends_at) daily or weekly until `repeat_until`.
    """

    scope_partner_path = "partner"
    scope_kota_path = "kota"

    camera = models.ForeignKey(
        Camera, on_delete=models.CASCADE, null=True, blank=True, related_name="windows"
    )
    site = models.ForeignKey(
        "sites.Site", on_delete=models.CASCADE, null=True, blank=True, related_name="windows"
    )
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="maintenance_windows",
    )
    kota = models.ForeignKey(
        "sites.Area",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"level": "city"},
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    recurrence = models.CharField(
        _("repeats"),
        max_length=8,
        choices=WindowRecurrence.choices,
        default=WindowRecurrence.NONE,
    )
    repeat_until = models.DateField(_("repeat until"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="window_ends_after_start",
            ),
            # Exactly one scope is set.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        camera__isnull=False,
                        site__isnull=True,
                        partner__isnull=True,
                        kota__isnull=True,
                    )
                    | models.Q(
                        camera__isnull=True,
                        site__isnull=False,
                        partner__isnull=True,
                        kota__isnull=True,
                    )
                    | models.Q(
                        camera__isnull=True,
                        site__isnull=True,
                        partner__isnull=False,
                        kota__isnull=True,
                    )
                    | models.Q(
                        camera__isnull=True,
                        site__isnull=True,
                        partner__isnull=True,
                        kota__isnull=False,
                    )
                ),
                name="window_exactly_one_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.starts_at:%Y-%m-%d %H:%M})"


class UpstreamIncident(models.Model):
    """All of one partner's cameras behind one pole or one network segment failed together: one
    incident instead of a flood of camera alerts (their cameras show upstream_down)."""

    scope_partner_path = "owner"
    # Only pole incidents have a place; a Sudin officer sees those in their kota.
    scope_kota_path = "pole__kelurahan__parent__parent"

    # The partner owning the cameras. Incidents are per owner: two partners may use the same
    # private /24, and one's cameras answering must not close the other's incident. Empty only on
    # incidents recorded before incidents had owners (migration 0009); the engine always sets it.
    owner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="upstream_incidents",
        verbose_name=_("owning partner"),
    )
    pole = models.ForeignKey(
        "sites.UtilityPole",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
    )
    # The network segment (e.g. "10.71.3.0/24") when the cameras share no pole.
    segment = models.CharField(max_length=43, blank=True)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cameras_affected = models.PositiveIntegerField(default=0)
    sweep = models.ForeignKey(
        HealthSweep, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pole__isnull=False) | ~models.Q(segment=""),
                name="incident_has_pole_or_segment",
            ),
            # One open incident per owner and place, even when two batches of a sweep find the
            # same failure at once (the engine inserts with ON CONFLICT DO NOTHING).
            models.UniqueConstraint(
                fields=["owner", "pole", "segment"],
                condition=models.Q(ended_at__isnull=True),
                nulls_distinct=False,
                name="incident_one_open_per_place",
            ),
        ]

    def __str__(self) -> str:
        return f"upstream incident at {self.pole or self.segment}"


class RollupPeriod(models.TextChoices):
    HOUR = "hour", _("Hour")
    DAY = "day", _("Day")


class HealthRollup(models.Model):
    """Seconds a camera spent in each state during one hour or one day (availability %)."""

    scope_partner_path = "camera__owner"
    scope_kota_path = "camera__site__kelurahan__parent__parent"

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="rollups")
    period = models.CharField(max_length=4, choices=RollupPeriod.choices)
    period_start = models.DateTimeField()
    up_seconds = models.PositiveIntegerField(default=0)
    degraded_seconds = models.PositiveIntegerField(default=0)
    down_seconds = models.PositiveIntegerField(default=0)
    maintenance_seconds = models.PositiveIntegerField(default=0)
    unknown_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["camera_id", "period", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["camera", "period", "period_start"], name="rollup_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.period} {self.period_start:%Y-%m-%d %H:%M}"

    @property
    def availability(self) -> float | None:
        """Share of the counted time the camera was up or degraded (maintenance excluded)."""
        counted = self.up_seconds + self.degraded_seconds + self.down_seconds
        if counted == 0:
            return None
        return 100.0 * (self.up_seconds + self.degraded_seconds) / counted


class CameraHeartbeatKey(models.Model):
    """The token a camera behind NAT uses to push heartbeats, and its latest heartbeat.

    A camera with a key that is not revoked is in push mode: sweeps never probe it; they judge
    its latest heartbeat instead (sites.health.sweeps). Only the token's SHA-256 is stored; the
    token itself is shown once, when issued. Rotating revokes the old key and issues a new one
    (the heartbeat state carries over); revoking alone ends push mode. Revoked keys are kept, so
    who issued and who revoked which key stays on record.
    """

    scope_partner_path = "camera__owner"
    scope_kota_path = "camera__site__kelurahan__parent__parent"

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="heartbeat_keys")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, enough to tell which token a camera was given.
    token_prefix = models.CharField(_("token starts with"), max_length=12)
    issued_at = models.DateTimeField(_("issued at"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    # What the camera said about itself in that heartbeat: up, or degraded with a reason.
    reported_status = models.CharField(max_length=16, choices=HealthStatus.choices, blank=True)
    reported_reason = models.CharField(max_length=24, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["camera"],
                condition=models.Q(revoked_at__isnull=True),
                name="heartbeatkey_one_live_per_camera",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.token_prefix}… (camera {self.camera_id})"
