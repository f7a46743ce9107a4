"""Query-string filters for the programmes and applications API.

Partner and programme ids are plain numbers, never ModelChoiceFilters: those would answer 400
for a missing id and 200 for an invisible one, telling a stranger which ids exist. Application
filters delegate to contracts.selectors so pages and the API filter the same way.
"""

import django_filters

from contracts import selectors
from contracts.models import (
    ApplicationSite,
    ApplicationStatus,
    HostingApplication,
    PoleConsent,
    Programme,
    ProgrammeStatus,
)


class ProgrammeFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ProgrammeStatus.choices)
    kelurahan = django_filters.CharFilter(
        field_name="target_kelurahan__code",
        label="Target kelurahan (Kemendagri code, e.g. 31.71.01.1001)",
    )

    class Meta:
        model = Programme
        fields = ["status", "kelurahan"]


class ApplicationFilter(django_filters.FilterSet):
    kota = django_filters.CharFilter(method="by", label="Kota (Kemendagri code, e.g. 31.71)")
    kecamatan = django_filters.CharFilter(
        method="by", label="Kecamatan of a candidate site (Kemendagri code, e.g. 31.71.01)"
    )
    status = django_filters.ChoiceFilter(choices=ApplicationStatus.choices, method="by")
    programme = django_filters.NumberFilter(method="by", label="Programme id")
    applicant = django_filters.NumberFilter(method="by", label="Applicant partner id")
    older_than_days = django_filters.NumberFilter(
        method="by", min_value=0, label="Submitted at least this many days ago"
    )
    overdue = django_filters.BooleanFilter(method="by", label="Past the review deadline")

    class Meta:
        model = HostingApplication
        fields = [
            "kota",
            "kecamatan",
            "status",
            "programme",
            "applicant",
            "older_than_days",
            "overdue",
        ]

    def by(self, queryset, name: str, value):
        if name in {"programme", "applicant", "older_than_days"}:
            value = int(value)
        return selectors.filter_applications(queryset, {name: value})


class ApplicationSiteFilter(django_filters.FilterSet):
    application = django_filters.NumberFilter(field_name="application_id")
    pole_consent = django_filters.ChoiceFilter(choices=PoleConsent.choices)

    class Meta:
        model = ApplicationSite
        fields = ["application", "pole_consent"]
