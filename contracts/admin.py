"""Back-office views of the deal pipeline.

Programmes and applications change only through contracts.services (guarded transitions,
four-eyes, pole slots), so here they are read-only; decisions and status changes are
append-only. Response templates are plain reference text that administrators may edit.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from contracts.models import (
    ApplicationAttachment,
    ApplicationDecision,
    ApplicationParty,
    ApplicationSite,
    HostingApplication,
    Programme,
    ProgrammeBudget,
    ProgrammeStatusChange,
    ResponseTemplate,
)
from portal.admin import ReadOnlyAdmin, StatusChangeAdmin


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ProgrammeBudgetInline(_ReadOnlyInline):
    model = ProgrammeBudget
    fields = ["source", "amount"]
    readonly_fields = fields


@admin.register(Programme)
class ProgrammeAdmin(ReadOnlyAdmin):
    list_display = ["title", "status", "camera_target", "period_start", "period_end", "created_by"]
    list_filter = ["status", "period_start"]
    search_fields = ["title", "rationale"]
    list_select_related = ["created_by"]
    filter_horizontal = ["target_kelurahan"]
    inlines = [ProgrammeBudgetInline]


@admin.register(ProgrammeBudget)
class ProgrammeBudgetAdmin(ReadOnlyAdmin):
    list_display = ["programme", "source", "amount"]
    list_filter = ["source"]
    list_select_related = ["programme"]


@admin.register(ProgrammeStatusChange)
class ProgrammeStatusChangeAdmin(StatusChangeAdmin):
    list_display = ["programme", *StatusChangeAdmin.list_display]
    search_fields = ["programme__title", "reason"]
    list_select_related = ["programme", "actor"]


class ApplicationPartyInline(_ReadOnlyInline):
    model = ApplicationParty
    fields = ["partner", "cost_share"]
    readonly_fields = fields


class ApplicationSiteInline(_ReadOnlyInline):
    model = ApplicationSite
    fields = ["site", "cameras_planned", "pole_consent", "pole_consent_by", "pole_consent_at"]
    readonly_fields = fields


class ApplicationDecisionInline(_ReadOnlyInline):
    model = ApplicationDecision
    fields = ["created_at", "actor", "old_status", "new_status", "decision", "reason"]
    readonly_fields = fields
    ordering = ["created_at", "id"]


@admin.register(HostingApplication)
class HostingApplicationAdmin(ReadOnlyAdmin):
    list_display = ["title", "applicant", "status", "kota", "programme", "submitted_at"]
    list_filter = ["status", "kota", "programme"]
    search_fields = ["title", "applicant__name"]
    list_select_related = ["applicant", "kota", "programme"]
    date_hierarchy = "created_at"
    inlines = [ApplicationPartyInline, ApplicationSiteInline, ApplicationDecisionInline]


@admin.register(ApplicationParty)
class ApplicationPartyAdmin(ReadOnlyAdmin):
    list_display = ["application", "partner", "cost_share"]
    search_fields = ["application__title", "partner__name"]
    list_select_related = ["application", "partner"]


@admin.register(ApplicationSite)
class ApplicationSiteAdmin(ReadOnlyAdmin):
    list_display = ["application", "site", "cameras_planned", "pole_consent"]
    list_filter = ["pole_consent"]
    search_fields = ["application__title", "site__address"]
    list_select_related = ["application", "site"]


@admin.register(ApplicationDecision)
class ApplicationDecisionAdmin(StatusChangeAdmin):
    list_display = ["application", "decision", *StatusChangeAdmin.list_display]
    list_filter = ["decision", *StatusChangeAdmin.list_filter]
    search_fields = ["application__title", "reason"]
    list_select_related = ["application", "actor"]


@admin.register(ApplicationAttachment)
class ApplicationAttachmentAdmin(ReadOnlyAdmin):
    # Private files have no public URL: show the stored name, never a link.
    exclude = ["file"]
    readonly_fields = ["stored_as"]
    list_display = ["original_name", "application", "size", "uploaded_by", "uploaded_at"]
    search_fields = ["original_name", "sha256", "application__title"]
    list_select_related = ["application", "uploaded_by"]

    @admin.display(description=_("stored as"))
    def stored_as(self, obj: ApplicationAttachment) -> str:
        return obj.file.name


@admin.register(ResponseTemplate)
class ResponseTemplateAdmin(admin.ModelAdmin):
    list_display = ["code", "title"]
    search_fields = ["code", "title", "body_id", "body_en"]
