"""Deal pipeline page forms. They shape what was typed; contracts.services applies every rule."""

from django import forms
from django.utils.translation import gettext_lazy as _

from contracts import selectors
from contracts.models import (
    OPEN_APPLICATION_STATUSES,
    ApplicationStatus,
    FundingSource,
    Programme,
    ProgrammeStatus,
)
from partners.models import MemberRole, Partner, PartnerStatus
from partners.selectors import memberships_of
from sites.models import Area, AreaLevel, HostKind, RawanLevel, UtilityPole
from sites.selectors import kelurahan_choices, kota_list

_LAT = {"max_digits": 12, "decimal_places": 8}
# Co-applicant rows on the page; a corridor of more partners is built through the API.
CO_APPLICANT_ROWS = 3


def _kota_short(name: str) -> str:
    for prefix in ("Kota Administrasi ", "Kabupaten Administrasi "):
        name = name.removeprefix(prefix)
    return name


class TargetKelurahanField(forms.ModelMultipleChoiceField):
    """Kelurahan names repeat across Jakarta: the label names kecamatan, kota and rawan level."""

    def label_from_instance(self, obj: Area) -> str:
        return _("%(kelurahan)s — Kec. %(kecamatan)s, %(kota)s (rawan: %(rawan)s)") % {
            "kelurahan": obj.name,
            "kecamatan": obj.parent.name,
            "kota": _kota_short(obj.parent.parent.name),
            "rawan": RawanLevel(obj.rawan_level).label,
        }


def _amount_field(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=0,
        initial=0,
        help_text=_("Whole Rupiah, without dots, e.g. 250000000."),
    )


class ProgrammeForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    rationale = forms.CharField(label=_("Rationale"), widget=forms.Textarea(attrs={"rows": 4}))
    target_kelurahan = TargetKelurahanField(
        label=_("Target kelurahan"),
        queryset=Area.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text=_("Hold Ctrl (or Cmd) to choose several."),
    )
    camera_target = forms.IntegerField(label=_("Camera target"), min_value=1)
    period_start = forms.DateField(
        label=_("Period start"), widget=forms.DateInput(attrs={"type": "date"})
    )
    period_end = forms.DateField(
        label=_("Period end"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_kelurahan"].queryset = kelurahan_choices().select_related(
            "parent__parent"
        )
        for source, label in FundingSource.choices:
            self.fields[f"budget_{source}"] = _amount_field(
                _("Budget: %(source)s (Rp)") % {"source": label}
            )

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["target_kelurahan"] = list(data["target_kelurahan"])
        data["budget"] = {
            source: data.pop(f"budget_{source}") or 0 for source in FundingSource.values
        }
        return data


class ReasonForm(forms.Form):
    """A step with a reason; the service says when one is required."""

    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# --- Applications ---------------------------------------------------------------------------


def applicant_partners(user):
    """The verified partners on whose behalf `user` may apply (as owner or staff)."""
    partner_ids = memberships_of(user=user).filter(
        role__in=[MemberRole.OWNER, MemberRole.STAFF], partner__status=PartnerStatus.VERIFIED
    )
    return Partner.objects.filter(pk__in=partner_ids.values("partner_id")).order_by("name")


class ApplicationForm(forms.Form):
    applicant = forms.ModelChoiceField(label=_("Applying partner"), queryset=Partner.objects.none())
    title = forms.CharField(label=_("Title"), max_length=200)
    programme = forms.ModelChoiceField(
        label=_("Programme"),
        queryset=Programme.objects.none(),
        required=False,
        empty_label=_("No programme"),
    )
    cofunding_cash = _amount_field(_("Cash offered (Rp)"))
    cofunding_in_kind = _amount_field(_("In-kind value offered (Rp)"))
    cofunding_csr = _amount_field(_("CSR funds offered (Rp)"))
    maintenance_commitment = forms.CharField(
        label=_("Maintenance commitment"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Who keeps the cameras running, and how fast repairs are made."),
    )

    def __init__(self, *args, user, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["applicant"]
        else:
            self.fields["applicant"].queryset = applicant_partners(user)
        self.fields["programme"].queryset = (
            selectors.programme_list(user=user)
            .prefetch_related(None)
            .filter(status__in=[ProgrammeStatus.APPROVED, ProgrammeStatus.ACTIVE])
        )
        for row in range(1, CO_APPLICANT_ROWS + 1):
            self.fields[f"co_applicant_{row}"] = forms.IntegerField(
                label=_("Co-applicant %(row)s: partner number") % {"row": row},
                required=False,
                min_value=1,
                help_text=_("For a corridor: the number shown on the neighbour's partner page.")
                if row == 1
                else "",
            )
            self.fields[f"cost_share_{row}"] = forms.IntegerField(
                label=_("Co-applicant %(row)s: cost share (Rp)") % {"row": row},
                required=False,
                min_value=0,
            )

    def clean(self) -> dict:
        cleaned = super().clean()
        rows = []
        for row in range(1, CO_APPLICANT_ROWS + 1):
            partner_id = cleaned.get(f"co_applicant_{row}")
            if partner_id:
                rows.append((row, partner_id, cleaned.get(f"cost_share_{row}") or 0))
        # Co-applicants are other organisations the user cannot see; only verified partners are
        # found, and a missing or unverified one gets the same answer.
        found = Partner.objects.filter(
            pk__in=[partner_id for _row, partner_id, _share in rows],
            status=PartnerStatus.VERIFIED,
        ).in_bulk()
        co_applicants = []
        for row, partner_id, share in rows:
            if partner_id not in found:
                self.add_error(
                    f"co_applicant_{row}",
                    _("Partner %(id)s is not a verified partner.") % {"id": partner_id},
                )
            else:
                co_applicants.append((found[partner_id], share))
        cleaned["co_applicants"] = co_applicants
        return cleaned

    def service_fields(self) -> dict:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if not name.startswith(("co_applicant_", "cost_share_"))
        }


class PoleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return _("%(code)s — %(owner)s, %(kelurahan)s (%(free)s free)") % {
            "code": obj.code,
            "owner": obj.owner.name,
            "kelurahan": obj.kelurahan.name,
            "free": obj.slots_free,
        }


class CandidateSiteForm(forms.Form):
    lat = forms.DecimalField(label=_("Latitude"), help_text=_("e.g. -6.175392"), **_LAT)
    lon = forms.DecimalField(label=_("Longitude"), help_text=_("e.g. 106.827153"), **_LAT)
    address = forms.CharField(label=_("Address"), max_length=300)
    host_kind = forms.ChoiceField(label=_("Hosted on"), choices=HostKind.choices)
    pole = PoleChoiceField(
        label=_("Pole"),
        queryset=UtilityPole.objects.none(),
        required=False,
        empty_label=_("Not on a pole"),
        help_text=_(
            "Only for a site on a utility pole. Another owner's pole needs its owner's consent."
        ),
    )
    cameras_planned = forms.IntegerField(label=_("Cameras planned"), min_value=1, initial=1)
    viewing_direction = forms.IntegerField(
        label=_("Viewing direction (degrees from north)"),
        required=False,
        min_value=0,
        max_value=359,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pole"].queryset = selectors.candidate_pole_choices()


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label=_("PDF file"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )


class OfficerDecisionForm(forms.Form):
    """A review step; returns and rejections need a comment or a response template."""

    template = forms.ChoiceField(label=_("Response template"), required=False)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to the applicant and kept in the history."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [
            ("", _("No template")),
            *((t.code, t.title) for t in selectors.response_template_list()),
        ]


class ConsentForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when you decline."),
    )


class ReviewQueueFilterForm(forms.Form):
    kota = forms.ModelChoiceField(
        label=_("Kota"),
        queryset=kota_list(),
        required=False,
        to_field_name="code",
        empty_label=_("All of Jakarta"),
    )
    kecamatan = forms.ModelChoiceField(
        label=_("Kecamatan"),
        queryset=Area.objects.filter(level=AreaLevel.DISTRICT).order_by("name"),
        required=False,
        to_field_name="code",
        empty_label=_("Any kecamatan"),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Any open status")),
            *(
                (value, label)
                for value, label in ApplicationStatus.choices
                if value in OPEN_APPLICATION_STATUSES
            ),
        ],
    )
    programme = forms.ModelChoiceField(
        label=_("Programme"),
        queryset=Programme.objects.none(),
        required=False,
        empty_label=_("Any programme"),
    )
    older_than_days = forms.IntegerField(label=_("Older than (days)"), required=False, min_value=0)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = (
            selectors.programme_list(user=user).prefetch_related(None).order_by("title")
        )

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        filters: dict = {}
        if data["kota"]:
            filters["kota"] = data["kota"].code
        if data["kecamatan"]:
            filters["kecamatan"] = data["kecamatan"].code
        if data["status"]:
            filters["status"] = data["status"]
        if data["programme"]:
            filters["programme"] = data["programme"].pk
        if data["older_than_days"] is not None:
            filters["older_than_days"] = data["older_than_days"]
        if data["overdue"]:
            filters["overdue"] = True
        return filters
