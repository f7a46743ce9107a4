"""Maintenance ticket page forms. They shape what was typed; contracts.ticket_services decides."""

from django import forms
from django.utils.translation import gettext_lazy as _

from contracts import ticket_selectors
from contracts.models import TicketSource, TicketStatus
from partners.models import Partner
from portal.roles import is_officer
from sites.models import Camera, Site
from sites.selectors import kota_list

_PHOTO_ACCEPT = "image/jpeg,image/png,.jpg,.jpeg,.png"


class SiteChoiceField(forms.ModelChoiceField):
    """Addresses repeat across Jakarta: the label names the kelurahan too."""

    def label_from_instance(self, obj) -> str:
        return _("%(address)s — %(kelurahan)s") % {
            "address": obj.address,
            "kelurahan": obj.kelurahan.name,
        }


class CameraChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Camera) -> str:
        return _("%(camera)s at %(address)s") % {"camera": obj, "address": obj.site.address}


class TicketFilterForm(forms.Form):
    q = forms.CharField(label=_("Reference or title"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Any status")),
            ("active", _("Still being worked on")),
            *TicketStatus.choices,
        ],
    )
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("Any source")), *TicketSource.choices]
    )
    kota = forms.ModelChoiceField(
        label=_("Kota"), queryset=kota_list(), required=False, empty_label=_("All of Jakarta")
    )
    responsible = forms.ModelChoiceField(
        label=_("Responsible partner"),
        queryset=Partner.objects.none(),
        required=False,
        empty_label=_("Any partner"),
    )
    overdue = forms.BooleanField(label=_("Clock missed only"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if is_officer(user):
            # Only partners the officer has tickets of, so the list stays short and in scope.
            responsible_ids = ticket_selectors.ticket_list(user=user).values("responsible_id")
            self.fields["responsible"].queryset = Partner.objects.filter(
                pk__in=responsible_ids
            ).order_by("name")
        else:
            # Partners see their own tickets only; the kota and partner filters say nothing new.
            del self.fields["kota"]
            del self.fields["responsible"]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        filters: dict = {}
        for name in ("q", "status", "source"):
            if data[name]:
                filters[name] = data[name]
        if data.get("kota"):
            filters["kota"] = data["kota"].pk
        if data.get("responsible"):
            filters["responsible"] = data["responsible"].pk
        if data["overdue"]:
            filters["overdue"] = True
        return filters


class TicketOpenForm(forms.Form):
    site = SiteChoiceField(label=_("Site"), queryset=Site.objects.none())
    camera = CameraChoiceField(
        label=_("Camera"),
        queryset=Camera.objects.none(),
        required=False,
        empty_label=_("The whole site (no single camera)"),
        help_text=_("Only a camera on the chosen site."),
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What is wrong, and anything the technician should know to find it."),
    )
    resident_report = forms.CharField(
        label=_("Resident report reference"),
        required=False,
        max_length=32,
        help_text=_("When a resident's report led to this ticket."),
    )

    def __init__(self, *args, user, site_id: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        sites = ticket_selectors.ticket_site_choices(user=user).select_related("kelurahan")
        self.fields["site"].queryset = sites.order_by("address", "pk")
        if site_id and str(site_id).isdigit():
            # A site already chosen (linked from its page, or posted): only its cameras, so an
            # officer's page does not list every camera in Jakarta.
            sites = sites.filter(pk=int(site_id))
        self.fields["camera"].queryset = (
            Camera.objects.filter(site__in=sites.values("pk"))
            .select_related("site")
            .order_by("site__address", "serial", "pk")
        )
        if not is_officer(user):
            del self.fields["resident_report"]

    def clean(self) -> dict:
        cleaned = super().clean()
        site, camera = cleaned.get("site"), cleaned.get("camera")
        if site and camera and camera.site_id != site.pk:
            self.add_error("camera", _("This camera is not on the chosen site."))
        return cleaned


# --- Ticket steps: each form posts to the action view under its own prefix ------------------


class OptionalNoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class NoteWithPhotoForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": _PHOTO_ACCEPT}),
        help_text=_("Optional. A JPEG or PNG picture of the work."),
    )


class ReasonRequiredForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )
