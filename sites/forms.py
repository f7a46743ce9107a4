"""Area and inventory page forms."""

from django import forms
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from sites.models import HostKind, RawanLevel, SiteStatus
from sites.selectors import kota_list


class KotaFilterForm(forms.Form):
    kota = forms.ModelChoiceField(
        label=_("Kota"),
        queryset=kota_list(),
        required=False,
        to_field_name="code",
        empty_label=_("All of Jakarta"),
    )


class RawanForm(forms.Form):
    rawan_level = forms.TypedChoiceField(
        label=_("Rawan level"), choices=RawanLevel.choices, coerce=int
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class LocateForm(forms.Form):
    lat = forms.DecimalField(
        label=_("Latitude"), max_digits=9, decimal_places=6, help_text=_("e.g. -6.175392")
    )
    lon = forms.DecimalField(
        label=_("Longitude"), max_digits=9, decimal_places=6, help_text=_("e.g. 106.827153")
    )


# --- Inventory pages --------------------------------------------------------------------------
# Forms check what was typed; the services decide (kelurahan, slots, networks, permissions).

_LAT = {"max_digits": 12, "decimal_places": 8}


class PoleForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Pole owner"), queryset=Partner.objects.none())
    code = forms.CharField(label=_("Pole code"), max_length=50)
    lat = forms.DecimalField(label=_("Latitude"), help_text=_("e.g. -6.175392"), **_LAT)
    lon = forms.DecimalField(label=_("Longitude"), help_text=_("e.g. 106.827153"), **_LAT)
    power_available = forms.BooleanField(label=_("Power available"), required=False)
    fibre_available = forms.BooleanField(label=_("Fibre available"), required=False)
    slots_total = forms.IntegerField(
        label=_("Attachment slots"), min_value=1, max_value=20, initial=1
    )

    def __init__(self, *args, owners=None, **kwargs):
        super().__init__(*args, **kwargs)
        if owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = owners


class PoleImportForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Pole owner"), queryset=Partner.objects.none())
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, first line: code,lat,lon,power_available,fibre_available,slots_total. "
            "Yes/no columns take yes/no, true/false, 1/0 or ya/tidak."
        ),
    )

    def __init__(self, *args, owners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners


class PoleFilterForm(forms.Form):
    kota = forms.ModelChoiceField(
        label=_("Kota"),
        queryset=kota_list(),
        required=False,
        to_field_name="code",
        empty_label=_("All of Jakarta"),
    )
    free = forms.BooleanField(label=_("Only poles with a free slot"), required=False)

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        filters: dict = {}
        if self.cleaned_data["kota"]:
            filters["kelurahan__parent__parent"] = self.cleaned_data["kota"]
        if self.cleaned_data["free"]:
            filters["slots_used__lt"] = F("slots_total")
        return filters


class SiteFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *SiteStatus.choices], required=False
    )
    kota = forms.ModelChoiceField(
        label=_("Kota"),
        queryset=kota_list(),
        required=False,
        to_field_name="code",
        empty_label=_("All of Jakarta"),
    )

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        filters: dict = {}
        if self.cleaned_data["status"]:
            filters["status"] = self.cleaned_data["status"]
        if self.cleaned_data["kota"]:
            filters["kelurahan__parent__parent"] = self.cleaned_data["kota"]
        return filters


class SiteProposeForm(forms.Form):
    host_partner = forms.ModelChoiceField(label=_("Host partner"), queryset=Partner.objects.none())
    lat = forms.DecimalField(label=_("Latitude"), help_text=_("e.g. -6.175392"), **_LAT)
    lon = forms.DecimalField(label=_("Longitude"), help_text=_("e.g. 106.827153"), **_LAT)
    address = forms.CharField(label=_("Address"), max_length=300)
    host_kind = forms.ChoiceField(label=_("Hosted on"), choices=HostKind.choices)
    pole = forms.IntegerField(
        label=_("Pole number"),
        required=False,
        min_value=1,
        help_text=_("Only for a site on a utility pole: the pole's number in the portal."),
    )
    viewing_direction = forms.IntegerField(
        label=_("Viewing direction (degrees from north)"),
        required=False,
        min_value=0,
        max_value=359,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, partners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["host_partner"].queryset = partners


class SiteEditForm(forms.Form):
    address = forms.CharField(label=_("Address"), max_length=300)
    viewing_direction = forms.IntegerField(
        label=_("Viewing direction (degrees from north)"),
        required=False,
        min_value=0,
        max_value=359,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class SiteActionForm(forms.Form):
    """One step on a site; the service says when a reason is required."""

    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the site's history."),
    )


class CameraForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Owning partner"), queryset=Partner.objects.none())
    vendor = forms.CharField(label=_("Vendor"), max_length=80)
    model = forms.CharField(label=_("Model"), max_length=80)
    serial = forms.CharField(label=_("Serial number"), max_length=80)
    resolution = forms.CharField(
        label=_("Resolution"), max_length=20, help_text=_("e.g. 1920x1080")
    )
    rtsp_url = forms.CharField(
        label=_("RTSP URL"),
        max_length=300,
        required=False,
        help_text=_("e.g. rtsp://10.20.30.40:554/stream1"),
    )
    snapshot_url = forms.CharField(label=_("HTTP snapshot URL"), max_length=300, required=False)
    onvif_url = forms.CharField(label=_("ONVIF endpoint"), max_length=300, required=False)
    username = forms.CharField(
        label=_("Username"),
        max_length=80,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=200,
        required=False,
        strip=False,
        # Never rendered back into the page, not even after a failed submit.
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )

    push = forms.BooleanField(
        label=_("Behind NAT: the camera sends heartbeats instead of being probed"),
        required=False,
        help_text=_(
            "No address needed. Its token is shown once, right after registering; the camera "
            "sends it with every heartbeat."
        ),
    )

    def __init__(self, *args, owners=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["push"]  # switching later is on the camera's page
        if owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = owners
        if editing:
            self.fields["password"].help_text = _("Leave empty to keep the stored password.")
            self.fields["username"].help_text = _("Leave empty to keep the stored username.")
