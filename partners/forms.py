"""Partner page forms. They shape input; partners.services applies every rule."""

from django import forms
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from partners.models import (
    LEGAL_ENTITY_KINDS,
    DocumentKind,
    MemberRole,
    Partner,
    PartnerKind,
    PartnerStatus,
)
from sites.selectors import kelurahan_choices

LEGAL_FIELDS = ["legal_name", "nib", "npwp"]
COMMUNITY_FIELDS = ["community_type", "rt_number", "rw_number", "sk_number"]
COMMON_FIELDS = [
    "kelurahan",
    "address",
    "contact_name",
    "contact_email",
    "contact_phone",
    "website",
]
# What the service insists on for each group of kinds; marked required here so the browser says so.
_REQUIRED = {
    "legal": ["legal_name", "nib", "npwp"],
    "community": ["community_type", "rw_number", "sk_number"],
}
# What a verified partner's owners cannot change (partners.services.partner_update).
IDENTITY_FIELDS = ["legal_name", "nib", "npwp"]


class KelurahanField(forms.ModelChoiceField):
    """Kelurahan names repeat across Jakarta; the label names the kecamatan and kota too."""

    def label_from_instance(self, obj) -> str:
        kota = obj.parent.parent.name
        for prefix in ("Kota Administrasi ", "Kabupaten Administrasi "):
            kota = kota.removeprefix(prefix)
        return _("%(kelurahan)s — Kec. %(kecamatan)s, %(kota)s") % {
            "kelurahan": obj.name,
            "kecamatan": obj.parent.name,
            "kota": kota,
        }


class PartnerFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *PartnerKind.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All statuses")), *PartnerStatus.choices]
    )

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value}


class PartnerKindForm(forms.Form):
    """Step one of registration: the kind decides which identity fields follow."""

    kind = forms.ChoiceField(
        label=_("What kind of organisation is it?"),
        choices=PartnerKind.choices,
        widget=forms.RadioSelect,
    )


class PartnerForm(forms.Form):
    """An organisation's details for one kind: legal entities or community groups."""

    def __init__(self, *args, kind: str, verified: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        group = "legal" if kind in LEGAL_ENTITY_KINDS else "community"
        names = ["name", *(LEGAL_FIELDS if group == "legal" else COMMUNITY_FIELDS), *COMMON_FIELDS]
        self.fields.update(
            fields_for_model(
                Partner,
                fields=[name for name in names if name != "website"],
                field_classes={"kelurahan": KelurahanField},
                widgets={"address": forms.Textarea(attrs={"rows": 3})},
                help_texts={
                    "nib": _("Nomor Induk Berusaha from OSS: 13 digits."),
                    "npwp": _(
                        "The organisation's tax number: 16 digits; dots and dashes are fine."
                    ),
                    "rt_number": _("Leave empty if the group serves a whole RW."),
                    "sk_number": _("The decree (SK) that appoints the group."),
                },
            )
        )
        self.fields["kelurahan"].queryset = kelurahan_choices().select_related("parent__parent")
        # Django 6 assumes https for scheme-less URLs; say so now (and silence the warning).
        self.fields["website"] = forms.URLField(
            label=Partner._meta.get_field("website").verbose_name.capitalize(),
            required=False,
            assume_scheme="https",
        )
        if group == "legal":
            # Room for the dots and dashes people type; the service keeps only the digits.
            self.fields["npwp"] = forms.CharField(
                label=self.fields["npwp"].label,
                max_length=24,
                help_text=self.fields["npwp"].help_text,
            )
        for name in _REQUIRED[group]:
            self.fields[name].required = True
        if verified:
            for name in IDENTITY_FIELDS:
                if name in self.fields:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = _(
                        "Verified: only a Kominfotik officer can change this."
                    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=MemberRole.choices, initial=MemberRole.STAFF)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=MemberRole.choices)


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of document"), choices=DocumentKind.choices)
    file = forms.FileField(
        label=_("PDF file"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )


class NetworkForm(forms.Form):
    cidr = forms.CharField(
        label=_("Network (CIDR)"),
        max_length=43,
        help_text=_("The address range of the cameras, e.g. 10.20.30.0/24."),
    )
    ports = forms.CharField(
        label=_("Ports"),
        max_length=200,
        help_text=_("Separated by commas, e.g. 554, 80."),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)

    def clean_ports(self) -> list[int]:
        parts = [part.strip() for part in self.cleaned_data["ports"].split(",")]
        if not all(part.isdigit() for part in parts if part):
            raise forms.ValidationError(_("Enter port numbers separated by commas, e.g. 554, 80."))
        return [int(part) for part in parts if part]


class DecisionForm(forms.Form):
    """An officer's decision; the service says when a reason is required."""

    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown to the partner's owners and kept in the history."),
    )
