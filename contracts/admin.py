"""Back-office views of the deal pipeline, the agreements and the maintenance tickets.

Programmes, applications, contracts and tickets change only through the services (guarded
transitions, four-eyes, pole slots), so here they are read-only; decisions and status changes
are append-only. Response templates are plain reference text that administrators may edit.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from contracts.models import (
    ApplicationAttachment,
    ApplicationDecision,
    ApplicationParty,
    ApplicationSite,
    Breach,
    Contract,
    ContractDocument,
    ContractParty,
    ContractReminder,
    ContractSite,
    ContractStatusChange,
    FundingShare,
    HostingApplication,
    MaintenanceTicket,
    Obligation,
    OutboxCursor,
    Programme,
    ProgrammeBudget,
    ProgrammeStatusChange,
    ResponseTemplate,
    SlaEvaluation,
    TicketEvent,
    TicketEvidence,
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


# --- Partnership agreements ---------------------------------------------------------------------


class ContractPartyInline(_ReadOnlyInline):
    model = ContractParty
    fields = ["partner", "roles", "signatory", "signatory_title"]
    readonly_fields = fields


class FundingShareInline(_ReadOnlyInline):
    model = FundingShare
    fields = ["partner", "kind", "amount", "description"]
    readonly_fields = fields


class ContractSiteInline(_ReadOnlyInline):
    model = ContractSite
    fields = ["site", "in_force"]
    readonly_fields = fields


class ObligationInline(_ReadOnlyInline):
    model = Obligation
    fields = ["kind", "value", "responsible", "notes"]
    readonly_fields = fields


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ["number", "version", "title", "status", "kota", "term_start", "term_end"]
    list_filter = ["status", "kota", "renewal"]
    search_fields = ["number", "title", "parties__partner__name"]
    list_select_related = ["kota"]
    date_hierarchy = "term_end"
    inlines = [ContractPartyInline, FundingShareInline, ContractSiteInline, ObligationInline]


@admin.register(ContractStatusChange)
class ContractStatusChangeAdmin(StatusChangeAdmin):
    list_display = ["contract", *StatusChangeAdmin.list_display]
    search_fields = ["contract__number", "reason"]
    list_select_related = ["contract", "actor"]


@admin.register(ContractParty)
class ContractPartyAdmin(ReadOnlyAdmin):
    list_display = ["contract", "partner", "roles"]
    search_fields = ["contract__number", "partner__name"]
    list_select_related = ["contract", "partner"]


@admin.register(FundingShare)
class FundingShareAdmin(ReadOnlyAdmin):
    list_display = ["contract", "partner", "kind", "amount"]
    list_filter = ["kind"]
    list_select_related = ["contract", "partner"]


@admin.register(ContractSite)
class ContractSiteAdmin(ReadOnlyAdmin):
    list_display = ["contract", "site", "in_force"]
    list_filter = ["in_force"]
    search_fields = ["contract__number", "site__address"]
    list_select_related = ["contract", "site"]


@admin.register(ContractDocument)
class ContractDocumentAdmin(ReadOnlyAdmin):
    # Private files have no public URL: show the stored name, never a link.
    exclude = ["file"]
    readonly_fields = ["stored_as"]
    list_display = ["original_name", "contract", "kind", "size", "sha256", "uploaded_at"]
    list_filter = ["kind"]
    search_fields = ["original_name", "sha256", "contract__number"]
    list_select_related = ["contract", "uploaded_by"]

    @admin.display(description=_("stored as"))
    def stored_as(self, obj: ContractDocument) -> str:
        return obj.file.name


@admin.register(Obligation)
class ObligationAdmin(ReadOnlyAdmin):
    list_display = ["contract", "kind", "value", "responsible"]
    list_filter = ["kind"]
    list_select_related = ["contract", "responsible"]
    filter_horizontal = ["sites"]


@admin.register(ContractReminder)
class ContractReminderAdmin(ReadOnlyAdmin):
    list_display = ["contract", "days_before", "sent_at"]
    list_select_related = ["contract"]


# --- Maintenance tickets and breaches -----------------------------------------------------------


class TicketEventInline(_ReadOnlyInline):
    model = TicketEvent
    fields = ["created_at", "actor", "old_status", "new_status", "reason"]
    readonly_fields = fields
    ordering = ["created_at", "id"]


@admin.register(MaintenanceTicket)
class MaintenanceTicketAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "title",
        "status",
        "source",
        "responsible",
        "opened_at",
        "acknowledge_due_at",
        "repair_due_at",
    ]
    list_filter = ["status", "source"]
    search_fields = ["reference", "title", "responsible__name", "site__address"]
    list_select_related = ["responsible"]
    date_hierarchy = "opened_at"
    inlines = [TicketEventInline]


@admin.register(TicketEvent)
class TicketEventAdmin(StatusChangeAdmin):
    list_display = ["ticket", *StatusChangeAdmin.list_display]
    search_fields = ["ticket__reference", "reason"]
    list_select_related = ["ticket", "actor"]


@admin.register(TicketEvidence)
class TicketEvidenceAdmin(ReadOnlyAdmin):
    exclude = ["file"]
    list_display = ["ticket", "note", "size", "uploaded_by", "uploaded_at"]
    list_select_related = ["ticket", "uploaded_by"]


@admin.register(Breach)
class BreachAdmin(ReadOnlyAdmin):
    list_display = ["contract", "kind", "responsible", "ticket", "camera", "period", "detected_at"]
    list_filter = ["kind", "period"]
    search_fields = ["contract__number", "responsible__name", "ticket__reference"]
    list_select_related = ["contract", "responsible", "ticket"]
    date_hierarchy = "detected_at"


@admin.register(SlaEvaluation)
class SlaEvaluationAdmin(ReadOnlyAdmin):
    list_display = ["contract", "month", "cameras", "cameras_below_target", "evaluated_at"]
    list_select_related = ["contract"]


@admin.register(OutboxCursor)
class OutboxCursorAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_id", "updated_at"]
