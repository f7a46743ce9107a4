"""Back-office views of areas and the camera inventory. Rawan levels change only through
sites.services.area_set_rawan; poles, sites and cameras only through their services."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy

from portal.admin import ReadOnlyAdmin, StatusChangeAdmin
from portal.errors import ServiceError
from sites import services
from sites.models import (
    Area,
    Camera,
    CameraHealth,
    CameraHeartbeatKey,
    CameraStatusChange,
    ContactVerification,
    CoverageRequest,
    DeclineTemplate,
    HealthRollup,
    HealthSweep,
    MaintenanceWindow,
    Outage,
    RawanLevelChange,
    RequestFollow,
    RequestNote,
    RequestStatusChange,
    RequestSupport,
    ResidentContact,
    Site,
    SiteStatusChange,
    SweepBatch,
    UpstreamIncident,
    UtilityPole,
)


@admin.register(Area)
class AreaAdmin(ReadOnlyAdmin):
    # Codes, names and the tree come from sites/data (load_areas); a rawan level needs a recorded
    # reason (area_set_rawan). Nothing here is edited by hand.
    list_display = ["code", "name", "level", "parent", "rawan_level", "rawan_set_at"]
    list_filter = ["level", "rawan_level"]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]


@admin.register(RawanLevelChange)
class RawanLevelChangeAdmin(StatusChangeAdmin):
    list_display = ["area", *StatusChangeAdmin.list_display]
    search_fields = ["area__code", "area__name", "reason"]
    list_select_related = ["area", "actor"]


class ServiceEditAdmin(admin.ModelAdmin):
    """Edits are saved by a service; rows are created in the portal and never deleted here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A rule the service enforces is shown as a message, not a 500.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(UtilityPole)
class UtilityPoleAdmin(ServiceEditAdmin):
    list_display = ["code", "owner", "kelurahan", "slots_used", "slots_total", "updated_at"]
    list_filter = ["power_available", "fibre_available", "kelurahan__parent__parent"]
    search_fields = ["code", "owner__name"]
    list_select_related = ["owner", "kelurahan"]
    fields = [
        "owner",
        "code",
        "lat",
        "lon",
        "kelurahan",
        "power_available",
        "fibre_available",
        "slots_total",
        "slots_used",
        "created_at",
        "updated_at",
    ]
    # The kelurahan follows the point; slots in use only move with site approvals.
    readonly_fields = ["owner", "kelurahan", "slots_used", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change) -> None:
        services.pole_update(
            pole=UtilityPole.objects.get(pk=obj.pk),
            actor=request.user,
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )


@admin.register(Site)
class SiteAdmin(ServiceEditAdmin):
    list_display = ["address", "host_partner", "host_kind", "status", "kelurahan", "created_at"]
    list_filter = ["status", "host_kind", "kelurahan__parent__parent"]
    search_fields = ["address", "host_partner__name"]
    list_select_related = ["host_partner", "kelurahan"]
    fields = [
        "address",
        "notes",
        "viewing_direction",
        "status",
        "status_changed_at",
        "host_partner",
        "host_kind",
        "pole",
        "holds_pole_slot",
        "lat",
        "lon",
        "kelurahan",
        "created_by",
        "created_at",
    ]
    # Status moves only through the lifecycle services (with a recorded reason).
    readonly_fields = fields[3:]

    def save_model(self, request, obj, form, change) -> None:
        services.site_update(
            site=Site.objects.get(pk=obj.pk),
            actor=request.user,
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )


@admin.register(Camera)
class CameraAdmin(ReadOnlyAdmin):
    # Credentials are never shown, not even to administrators.
    exclude = ["username", "password_encrypted"]
    list_display = ["serial", "vendor", "model", "owner", "site", "installed_at"]
    search_fields = ["serial", "vendor", "model", "owner__name"]
    list_select_related = ["owner", "site"]
    readonly_fields = ["has_credentials"]

    @admin.display(description=gettext_lazy("credentials stored"), boolean=True)
    def has_credentials(self, obj: Camera) -> bool:
        return bool(obj.username or obj.password_encrypted)


@admin.register(SiteStatusChange)
class SiteStatusChangeAdmin(StatusChangeAdmin):
    list_display = ["site", *StatusChangeAdmin.list_display]
    search_fields = ["site__address", "reason"]
    list_select_related = ["site", "actor"]


# --- Fleet health: written only by the sweep engine (sites.health); the admin only looks. ------


@admin.register(CameraHealth)
class CameraHealthAdmin(ReadOnlyAdmin):
    list_display = ["camera", "status", "reason", "changed_at", "checked_at", "latency_ms"]
    list_filter = ["status", "reason"]
    search_fields = ["camera__serial", "camera__owner__name"]
    list_select_related = ["camera"]
    # The image hash and streaks are the checker's working state, not something to browse.
    exclude = ["image_hash"]


@admin.register(CameraStatusChange)
class CameraStatusChangeAdmin(StatusChangeAdmin):
    list_display = ["camera", *StatusChangeAdmin.list_display]
    search_fields = ["camera__serial", "reason"]
    list_select_related = ["camera", "actor"]
    raw_id_fields = ["camera", "sweep"]


@admin.register(Outage)
class OutageAdmin(ReadOnlyAdmin):
    list_display = ["camera", "started_at", "ended_at", "reason"]
    list_filter = ["reason", "started_at"]
    search_fields = ["camera__serial", "camera__owner__name"]
    list_select_related = ["camera"]
    date_hierarchy = "started_at"


class SweepBatchInline(admin.TabularInline):
    model = SweepBatch
    fields = ["number", "first_camera_id", "last_camera_id", "cameras", "done_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HealthSweep)
class HealthSweepAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "status",
        "finished_at",
        "cameras",
        "batches_done",
        "batches",
        "checks",
        "changes",
        "db_write_ms",
    ]
    list_filter = ["status"]
    date_hierarchy = "started_at"
    inlines = [SweepBatchInline]


# Windows are planned and cancelled through sites.maintenance_services (permissions, checks);
# incidents and roll-ups are written by the health engine. The admin only looks.
@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ReadOnlyAdmin):
    list_display = [
        "reason",
        "starts_at",
        "ends_at",
        "recurrence",
        "repeat_until",
        "camera",
        "site",
        "partner",
        "kota",
        "cancelled_at",
    ]
    list_filter = ["recurrence", "starts_at"]
    search_fields = ["reason", "camera__serial", "partner__name"]
    list_select_related = ["camera", "site", "partner", "kota"]
    raw_id_fields = ["camera", "site", "partner", "created_by"]


@admin.register(UpstreamIncident)
class UpstreamIncidentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "owner", "started_at", "ended_at", "cameras_affected"]
    list_filter = ["started_at"]
    search_fields = ["segment", "pole__code", "owner__name"]
    list_select_related = ["pole", "owner"]
    date_hierarchy = "started_at"


# Issued, rotated and revoked only through sites.heartbeat_services (the token is shown once,
# to the person who asked for it); the admin only looks, and never at the hash.
@admin.register(CameraHeartbeatKey)
class CameraHeartbeatKeyAdmin(ReadOnlyAdmin):
    list_display = [
        "token_prefix",
        "camera",
        "issued_at",
        "revoked_at",
        "last_heartbeat_at",
        "reported_status",
    ]
    list_filter = ["issued_at", "reported_status"]
    search_fields = ["token_prefix", "camera__serial", "camera__owner__name"]
    list_select_related = ["camera"]
    raw_id_fields = ["camera", "issued_by", "revoked_by"]
    exclude = ["token_hash"]


@admin.register(HealthRollup)
class HealthRollupAdmin(ReadOnlyAdmin):
    list_display = [
        "camera",
        "period",
        "period_start",
        "up_seconds",
        "degraded_seconds",
        "down_seconds",
        "maintenance_seconds",
        "unknown_seconds",
    ]
    list_filter = ["period"]
    search_fields = ["camera__serial"]
    list_select_related = ["camera"]


# --- Residents' coverage requests ---------------------------------------------------------------
# Personal data (contacts, names, photos) is never listed: the admin shows ids and states only.


@admin.register(CoverageRequest)
class CoverageRequestAdmin(ReadOnlyAdmin):
    list_display = ["reference", "category", "status", "kelurahan", "supports_count", "created_at"]
    list_filter = ["status", "category"]
    search_fields = ["reference"]
    list_select_related = ["kelurahan"]
    date_hierarchy = "created_at"
    exclude = ["requester_name", "photo", "contact"]


@admin.register(RequestStatusChange)
class RequestStatusChangeAdmin(StatusChangeAdmin):
    list_display = ["request", *StatusChangeAdmin.list_display]
    search_fields = ["request__reference", "reason"]
    list_select_related = ["request", "actor"]


@admin.register(ResidentContact)
class ResidentContactAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "language", "verified_at", "created_at"]
    list_filter = ["kind", "language"]
    exclude = ["value_hash", "value_encrypted", "name"]


@admin.register(ContactVerification)
class ContactVerificationAdmin(ReadOnlyAdmin):
    list_display = ["id", "contact", "purpose", "expires_at", "used_at", "attempts"]
    list_filter = ["purpose"]
    exclude = ["token_hash", "code_hash"]


@admin.register(RequestSupport)
class RequestSupportAdmin(ReadOnlyAdmin):
    list_display = ["request", "contact", "verified_at", "created_at"]
    list_select_related = ["request"]


@admin.register(RequestFollow)
class RequestFollowAdmin(ReadOnlyAdmin):
    list_display = ["request", "contact", "verified_at", "created_at"]
    list_select_related = ["request"]


@admin.register(RequestNote)
class RequestNoteAdmin(ReadOnlyAdmin):
    list_display = ["request", "author", "created_at"]
    list_select_related = ["request", "author"]


@admin.register(DeclineTemplate)
class DeclineTemplateAdmin(admin.ModelAdmin):
    list_display = ["code", "title"]
    search_fields = ["code", "title", "body_id", "body_en"]
