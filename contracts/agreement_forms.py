"""Partnership agreement page forms. They shape what was typed; contracts.agreement_services
applies every rule (and says which field it refuses)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from contracts.agreement_services import COVERABLE_SITE_STATUSES
from contracts.models import (
    IN_FORCE_CONTRACT_STATUSES,
    Contract,
    ContractSite,
    ContractStatus,
    DocumentKind,
    ObligationKind,
    PartyRole,
    RenewalTerms,
    ShareKind,
)
from partners.models import Partner, PartnerStatus
from portal.permissions import scope_queryset
from portal.roles import is_sudin_officer
from sites.models import Area, AreaLevel, Site

_DATE = {"widget": forms.DateInput(attrs={"type": "date"})}


def _kota_choices(user):
    kota = Area.objects.filter(level=AreaLevel.CITY).order_by("code")
    return kota.filter(pk=user.kota_id) if is_sudin_officer(user) else kota


class ContractForm(forms.Form):
    number = forms.CharField(
        label=_("Contract number"),
        max_length=60,
        help_text=_("As on the document, e.g. PKS/0012/DISKOMINFOTIK/2026."),
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    kota = forms.ModelChoiceField(
        label=_("Kota"),
        queryset=Area.objects.none(),
        required=False,
        to_field_name="code",
        help_text=_("Set from the first covered site when left empty."),
    )
    term_start = forms.DateField(label=_("Term start"), **_DATE)
    term_end = forms.DateField(label=_("Term end"), **_DATE)
    renewal = forms.ChoiceField(label=_("Renewal"), choices=RenewalTerms.choices)
    total_value = forms.IntegerField(
        label=_("Total value (Rp)"),
        min_value=0,
        help_text=_("Whole Rupiah, without dots. The co-funding shares must add up to it."),
    )
    first_party_signatory = forms.CharField(label=_("Signatory for the city"), max_length=150)
    first_party_signatory_title = forms.CharField(
        label=_("Signatory's position"), max_length=150, initial="Kepala Dinas"
    )

    def __init__(self, *args, user, editing: Contract | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kota"].queryset = _kota_choices(user)
        if editing is not None and editing.version > 1:
            # An addendum keeps the number of the contract it amends.
            del self.fields["number"]

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["kota"] = data["kota"].code if data.get("kota") else None
        return data


class ContractFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, help_text=_("Number, title or party"))
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *ContractStatus.choices]
    )
    kota = forms.ModelChoiceField(
        label=_("Kota"),
        queryset=Area.objects.filter(level=AreaLevel.CITY).order_by("code"),
        required=False,
        to_field_name="code",
        empty_label=_("Any"),
    )
    expiring_within_days = forms.IntegerField(
        label=_("Ending within (days)"), required=False, min_value=0
    )

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = {name: value for name, value in self.cleaned_data.items() if value not in ("", None)}
        if data.get("kota"):
            data["kota"] = data["kota"].code
        return data


class PartnerField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Partner) -> str:
        return f"{obj.name} (#{obj.pk})"


class PartyForm(forms.Form):
    partner = PartnerField(label=_("Partner"), queryset=Partner.objects.none())
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=PartyRole.choices, widget=forms.CheckboxSelectMultiple
    )
    signatory = forms.CharField(label=_("Signatory"), max_length=150, required=False)
    signatory_title = forms.CharField(
        label=_("Signatory's position"), max_length=150, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = Partner.objects.filter(
            status=PartnerStatus.VERIFIED
        ).order_by("name")


def _party_partners(contract: Contract):
    return Partner.objects.filter(contract_parties__contract=contract).order_by("name")


class ShareForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ShareKind.choices)
    partner = PartnerField(
        label=_("Contributor"),
        queryset=Partner.objects.none(),
        required=False,
        empty_label=_("The city (APBD)"),
    )
    amount = forms.IntegerField(
        label=_("Amount (Rp)"), min_value=1, help_text=_("Whole Rupiah, without dots.")
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)

    def __init__(self, *args, contract: Contract, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = _party_partners(contract)


class SiteField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Site) -> str:
        return _("%(address)s — %(kelurahan)s (#%(id)s, %(status)s)") % {
            "address": obj.address,
            "kelurahan": obj.kelurahan.name,
            "id": obj.pk,
            "status": obj.get_status_display(),
        }


def coverable_sites(*, user, contract: Contract):
    """Approved sites the user may see that this contract does not cover yet and no other
    binding contract covers (the service checks again)."""
    taken = ContractSite.objects.filter(contract__status__in=IN_FORCE_CONTRACT_STATUSES).exclude(
        contract__number=contract.number
    )
    sites = scope_queryset(user, Site.objects.filter(status__in=COVERABLE_SITE_STATUSES))
    return (
        sites.exclude(contract_entries__contract=contract)
        .exclude(pk__in=taken.values("site_id"))
        .select_related("kelurahan")
        .order_by("kelurahan__name", "address", "pk")
    )


class SiteForm(forms.Form):
    site = SiteField(label=_("Site"), queryset=Site.objects.none())

    def __init__(self, *args, user, contract: Contract, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = coverable_sites(user=user, contract=contract)


class CoveredSiteField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Site) -> str:
        return obj.address


class ObligationForm(forms.Form):
    kind = forms.ChoiceField(label=_("Obligation"), choices=ObligationKind.choices)
    value = forms.DecimalField(
        label=_("Value"),
        required=False,
        max_digits=6,
        decimal_places=2,
        help_text=_("Percent, hours or days as the kind says; empty for signage and feed."),
    )
    responsible = PartnerField(label=_("Responsible party"), queryset=Partner.objects.none())
    sites = CoveredSiteField(
        label=_("Applies to sites"),
        queryset=Site.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every site the contract covers."),
    )
    notes = forms.CharField(label=_("Notes"), max_length=300, required=False)

    def __init__(self, *args, contract: Contract, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["responsible"].queryset = _party_partners(contract)
        self.fields["sites"].queryset = Site.objects.filter(
            contract_entries__contract=contract
        ).order_by("address", "pk")


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (DocumentKind.DRAFT, DocumentKind.DRAFT.label),
            (DocumentKind.ANNEX, DocumentKind.ANNEX.label),
        ],
    )
    file = forms.FileField(
        label=_("PDF file"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )


class SignForm(forms.Form):
    signed_pdf = forms.FileField(
        label=_("Signed agreement (PDF)"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )
    signed_at = forms.DateTimeField(
        label=_("Signed at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for now."),
    )
