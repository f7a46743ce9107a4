"""Forms of the residents' coverage-request pages and the officers' triage pages.

They check what was typed; sites.request_services decides (inside Jakarta, rate limits,
verification, transitions). Residents have no account: they are known by a verified email.
"""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from sites.models import Area, DeclineTemplate, RequestCategory, RequestStatus, Site
from sites.selectors import kelurahan_choices, kota_list

# Something a resident may type when asked for a contact: digits, spaces, + ( ) - and dots only.
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{6,}$")
_LAT = {"max_digits": 12, "decimal_places": 8}


class ContactField(forms.CharField):
    """An email address. A phone number gets its own message: SMS codes cannot be sent yet."""

    widget = forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"})

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Email address"))
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        if _PHONE_LIKE.match(value):
            raise ValidationError(
                _("Verification by SMS is not available yet; please use an email address."),
                code="phone_not_available",
            )
        validate_email(value)
        return value.strip()


class RequestForm(forms.Form):
    lat = forms.DecimalField(label=_("Latitude"), help_text=_("e.g. -6.175392"), **_LAT)
    lon = forms.DecimalField(label=_("Longitude"), help_text=_("e.g. 106.827153"), **_LAT)
    category = forms.ChoiceField(
        label=_("What happens there?"),
        choices=RequestCategory.choices,
        widget=forms.RadioSelect,
    )
    description = forms.CharField(
        label=_("Describe the place and the problem"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Officers read this; it is never shown publicly. Do not write anyone's name or NIK."
        ),
    )
    photo = forms.FileField(
        label=_("Photo of the place (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
        help_text=_("JPEG or PNG. Location and camera details are removed from the photo."),
    )
    contact = ContactField(
        help_text=_("We send a link and a code to confirm the request. Never shown publicly.")
    )
    name = forms.CharField(
        label=_("Your name (optional)"),
        max_length=120,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    consent = forms.BooleanField(
        label=_("I have read the privacy notice and agree that my data is used as it describes."),
        error_messages={"required": _("Please accept the privacy notice to send a request.")},
    )
    # Left empty by people; bots that fill every field give themselves away.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )


class CodeForm(forms.Form):
    """The six-digit code from the email, for a resident who cannot open the link."""

    contact = ContactField()
    code = forms.RegexField(
        label=_("Code from the email"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("The code has six digits.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "6"}
        ),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip()


class ContactForm(forms.Form):
    """An email address to verify (support, follow, or seeing one's own data)."""

    contact = ContactField()


class WorkingForm(forms.Form):
    """The requester's answer to "is the camera working?"."""

    reason = forms.CharField(
        label=_("What is wrong? (when it does not work)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, delete my personal data now."),
        error_messages={"required": _("Tick the box to confirm.")},
    )


# --- Public list and officer queue -----------------------------------------------------------


class QuickSelect(forms.Select):
    """A <select> written out in Python, the same HTML as Django's own: Django renders every
    option through a template, and the 267 kelurahan of the list filters took a third of the
    request pages' time."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            parts += [
                f'\n  <option value="{escape(option["value"])}"{_attrs(option["attrs"])}>'
                f"{conditional_escape(option['label'])}</option>\n"
                for option in options
            ]
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # every part above is escaped


def _attrs(attrs: dict) -> str:
    """HTML attributes as django/forms/widgets/attrs.html writes them."""
    return "".join(
        f" {escape(name)}" if value is True else f' {escape(name)}="{escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class PublicFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[
            ("", _("Any status")),
            ("open", _("Open")),
            *((s.value, s.label) for s in RequestStatus if s != RequestStatus.UNVERIFIED),
        ],
        required=False,
    )
    category = forms.ChoiceField(
        label=_("Category"),
        choices=[("", _("Any category")), *RequestCategory.choices],
        required=False,
    )
    kelurahan = forms.ModelChoiceField(
        label=_("Kelurahan"),
        queryset=kelurahan_choices(),
        required=False,
        to_field_name="code",
        empty_label=_("All of Jakarta"),
        widget=QuickSelect,
    )

    def filters(self) -> dict:
        """What sites.request_selectors filters on: statuses and Kemendagri codes."""
        if not self.is_valid():
            return {}
        filters = {}
        for name, value in self.cleaned_data.items():
            if isinstance(value, Area):
                filters[name] = value.code
            elif value:
                filters[name] = value
        return filters


class QueueFilterForm(PublicFilterForm):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[
            ("open", _("Open (to triage)")),
            ("all", _("Any status")),
            *((s.value, s.label) for s in RequestStatus if s != RequestStatus.UNVERIFIED),
        ],
        required=False,
    )
    kota = forms.ModelChoiceField(
        label=_("Kota"),
        queryset=kota_list(),
        required=False,
        to_field_name="code",
        empty_label=_("All of Jakarta"),
    )
    above_threshold = forms.BooleanField(
        label=_("Only at or over the support threshold"), required=False
    )


# --- Officer steps ----------------------------------------------------------------------------


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown on the public tracking page."),
    )


class PlanForm(OptionalReasonForm):
    field_order = ["site", "reason"]

    site = forms.ModelChoiceField(
        label=_("Site"),
        queryset=Site.objects.none(),
        empty_label=_("Choose a nearby site"),
    )

    def __init__(self, *args, sites, distances: dict[int, int], **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        field.queryset = sites
        field.label_from_instance = lambda site: (
            _("%(address)s · %(kelurahan)s · %(status)s · %(distance)s m")
            % {
                "address": site.address,
                "kelurahan": site.kelurahan.name,
                "status": site.get_status_display(),
                "distance": distances.get(site.pk, "?"),
            }
        )


class DeclineForm(forms.Form):
    template = forms.ModelChoiceField(
        label=_("Standard reason"),
        queryset=DeclineTemplate.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("None: write the reason below"),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to the requester and on the public tracking page."),
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("template") and not cleaned.get("reason", "").strip():
            raise ValidationError(_("Choose a standard reason or write one."))
        return cleaned


class MergeForm(forms.Form):
    into = forms.CharField(
        label=_("Merge into (reference)"),
        max_length=20,
        help_text=_("e.g. REQ-2026-000123. Supporters and followers move to that request."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_into(self) -> str:
        return self.cleaned_data["into"].strip().upper()


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Private note"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only officers see notes."),
    )
