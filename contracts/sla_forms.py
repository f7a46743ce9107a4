"""Query forms of the SLA report and breach pages (they only read; nothing here writes)."""

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from contracts.models import BreachKind
from contracts.sla_selectors import parse_month, previous_month
from sites.models import Area, AreaLevel


class MonthField(forms.CharField):
    """A month as "YYYY-MM" (the browser's month picker), cleaned to its first day."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
    default_error_messages = {"invalid": _("Enter a month as YYYY-MM, e.g. 2026-11.")}

    def to_python(self, value) -> date | None:
        value = super().to_python(value)
        if not value:
            return None
        try:
            return parse_month(value)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None

    def prepare_value(self, value):
        return f"{value:%Y-%m}" if isinstance(value, date) else value


class MonthForm(forms.Form):
    month = MonthField(label=_("Month"), required=False)

    def chosen_month(self) -> date:
        """The month asked for, or the last complete one (when it is missing or invalid)."""
        if self.is_valid() and self.cleaned_data["month"]:
            return self.cleaned_data["month"]
        return previous_month()


class PartnerReportForm(MonthForm):
    partner = forms.ModelChoiceField(label=_("Partner"), queryset=None, required=False)

    def __init__(self, *args, partners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partners
        self.order_fields(["partner", "month"])


class BreachFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("Any"))] + BreachKind.choices, required=False
    )
    partner = forms.ModelChoiceField(label=_("Responsible party"), queryset=None, required=False)
    kota = forms.ModelChoiceField(
        label=_("Kota"),
        queryset=Area.objects.filter(level=AreaLevel.CITY).order_by("code"),
        to_field_name="code",
        required=False,
    )
    contract = forms.IntegerField(label=_("Contract id"), min_value=1, required=False)
    month_from = MonthField(label=_("From month"), required=False)
    month_to = MonthField(label=_("To month"), required=False)

    def __init__(self, *args, partners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partners

    def filters(self) -> dict:
        """What breach_list understands; an invalid form filters nothing."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "partner": data["partner"].pk if data["partner"] else None,
            "kota": data["kota"].code if data["kota"] else None,
            "contract": data["contract"],
            "month_from": data["month_from"],
            "month_to": data["month_to"],
        }
