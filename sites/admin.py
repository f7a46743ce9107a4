"""Back-office views of areas. Rawan levels change only through sites.services.area_set_rawan."""

from django.contrib import admin

from portal.admin import ReadOnlyAdmin, StatusChangeAdmin
from sites.models import Area, RawanLevelChange


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
