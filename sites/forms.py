"""Area page forms."""

from django import forms
from django.utils.translation import gettext_lazy as _

from sites.models import RawanLevel
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
