"""Back-office views of partners. Status changes and permissions go through partners.services."""

from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners import services
from partners.models import (
    CameraNetwork,
    CameraNetworkStatusChange,
    Invitation,
    Membership,
    Partner,
    PartnerDocument,
    PartnerStatusChange,
)
from portal.admin import ReadOnlyAdmin, StatusChangeAdmin
from portal.errors import ServiceError


class MembershipInline(admin.TabularInline):
    # Roles carry guardian permissions: they change only through membership_change_role.
    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _decide(modeladmin, request, queryset, service, verb: str) -> None:
    done = 0
    for partner in queryset:
        try:
            service(
                partner=partner,
                actor=request.user,
                reason=f"{verb} via admin by {request.user.get_username()}",
            )
            done += 1
        except ServiceError as error:
            modeladmin.message_user(request, f"{partner}: {error.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, _("%(n)d partner(s) updated.") % {"n": done})


@admin.action(description=gettext_lazy("Verify the selected partners"))
def verify(modeladmin, request, queryset) -> None:
    _decide(modeladmin, request, queryset, services.partner_verify, "Verified")


@admin.action(description=gettext_lazy("Suspend the selected partners"))
def suspend(modeladmin, request, queryset) -> None:
    _decide(modeladmin, request, queryset, services.partner_suspend, "Suspended")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "nib", "kelurahan", "created_at"]
    list_filter = ["status", "kind", "community_type", "kelurahan__parent__parent"]
    search_fields = ["name", "legal_name", "nib", "npwp", "contact_email"]
    list_select_related = ["kelurahan"]
    raw_id_fields = ["kelurahan"]
    readonly_fields = ["status", "status_changed_at", "created_by", "created_at", "updated_at"]
    inlines = [MembershipInline]
    actions = [verify, suspend]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request) -> bool:
        # Registration makes the registering user the owner: it happens in the portal.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        services.partner_update(
            partner=obj,
            actor=request.user,
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A rule the service enforces (e.g. a verified partner's identity) is shown, not a 500.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "partner", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "partner__name"]
    list_select_related = ["user", "partner"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    # The token is the secret in the emailed link: not shown here.
    exclude = ["token"]
    list_display = [
        "email",
        "partner",
        "role",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["role", "created_at"]
    search_fields = ["email", "partner__name"]
    list_select_related = ["partner"]


@admin.register(PartnerDocument)
class PartnerDocumentAdmin(ReadOnlyAdmin):
    # Private files have no public URL: show the stored name, never a link.
    exclude = ["file"]
    readonly_fields = ["stored_as"]
    list_display = ["original_name", "partner", "kind", "size", "uploaded_by", "uploaded_at"]
    list_filter = ["kind"]
    search_fields = ["original_name", "sha256", "partner__name"]
    list_select_related = ["partner", "uploaded_by"]

    @admin.display(description=gettext_lazy("stored as"))
    def stored_as(self, obj: PartnerDocument) -> str:
        return obj.file.name


@admin.register(CameraNetwork)
class CameraNetworkAdmin(ReadOnlyAdmin):
    list_display = ["cidr", "ports", "partner", "status", "created_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["cidr", "description", "partner__name"]
    list_select_related = ["partner"]


@admin.register(PartnerStatusChange)
class PartnerStatusChangeAdmin(StatusChangeAdmin):
    list_display = ["partner", *StatusChangeAdmin.list_display]
    search_fields = ["partner__name", "reason"]
    list_select_related = ["partner", "actor"]


@admin.register(CameraNetworkStatusChange)
class CameraNetworkStatusChangeAdmin(StatusChangeAdmin):
    list_display = ["network", *StatusChangeAdmin.list_display]
    search_fields = ["network__cidr", "network__partner__name", "reason"]
    list_select_related = ["network", "actor"]
