"""Admin for accounts, and the read-only base every append-only status log uses."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from portal.models import RateLimitBucket, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (or protected by a trigger): the admin may look, not touch."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class StatusChangeAdmin(ReadOnlyAdmin):
    """An append-only status log; the database refuses updates and deletes anyway."""

    list_display = ["created_at", "old_status", "new_status", "actor", "reason"]
    list_filter = ["new_status", "created_at"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (_("Portal"), {"fields": ["full_name", "phone", "kota", "language"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "email", "usable_password", "password1", "password2"],
            },
        ),
    ]
    list_display = ["username", "email", "full_name", "kota", "language", "is_staff", "is_active"]
    list_filter = [*DjangoUserAdmin.list_filter, "kota", "language"]
    list_select_related = ["kota"]
    search_fields = ["username", "email", "full_name", "phone"]


@admin.register(RateLimitBucket)
class RateLimitBucketAdmin(ReadOnlyAdmin):
    list_display = ["key", "window_start", "hits"]
    search_fields = ["key"]
