"""Reads of programmes and hosting applications, always through the permission scope.

An application belongs to its applicant (scope_partner_path "applicant"), but a corridor's
co-applicants see it too, and a pole owner sees the candidate-site entries on its poles.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Extract, Now
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import (
    OPEN_APPLICATION_STATUSES,
    ApplicationDecision,
    ApplicationParty,
    ApplicationSite,
    ApplicationStatus,
    HostingApplication,
    PoleConsent,
    Programme,
    ResponseTemplate,
)
from portal.permissions import partner_ids_for, scope_queryset
from portal.roles import is_officer, is_operator
from sites.models import UtilityPole

# --- Programmes -----------------------------------------------------------------------------


def programme_list(*, user, filters: dict | None = None) -> QuerySet[Programme]:
    """Programmes are city business: every signed-in user sees them all."""
    if not user.is_authenticated:
        return Programme.objects.none()
    programmes = Programme.objects.select_related("created_by").prefetch_related(
        "target_kelurahan", "budget"
    )
    filters = filters or {}
    if filters.get("status"):
        programmes = programmes.filter(status=filters["status"])
    if filters.get("kelurahan"):
        programmes = programmes.filter(target_kelurahan__code=filters["kelurahan"])
    if filters.get("kota"):
        programmes = programmes.filter(
            pk__in=Programme.objects.filter(
                target_kelurahan__parent__parent__code=filters["kota"]
            ).values("pk")
        )
    return programmes


def programme_history(*, programme: Programme):
    return programme.status_changes.select_related("actor")


# --- Applications ---------------------------------------------------------------------------


def _visible_applications(user) -> QuerySet[HostingApplication]:
    applications = HostingApplication.objects.all()
    visible = scope_queryset(user, applications)
    if user.is_authenticated and not (is_officer(user) or is_operator(user)):
        # A corridor's co-applicants see the whole application, not only the lead applicant.
        as_party = ApplicationParty.objects.filter(partner__in=partner_ids_for(user)).values(
            "application_id"
        )
        visible = applications.filter(Q(pk__in=visible.values("pk")) | Q(pk__in=as_party))
    return visible


def _deadline_cutoff():
    return timezone.now() - timedelta(days=settings.REVIEW_DEADLINE_DAYS)


def filter_applications(
    applications: QuerySet[HostingApplication], filters: dict
) -> QuerySet[HostingApplication]:
    if filters.get("kota"):
        applications = applications.filter(kota__code=filters["kota"])
    if filters.get("kecamatan"):
        applications = applications.filter(
            pk__in=ApplicationSite.objects.filter(
                site__kelurahan__parent__code=filters["kecamatan"]
            ).values("application_id")
        )
    if filters.get("status"):
        applications = applications.filter(status=filters["status"])
    if filters.get("programme"):
        applications = applications.filter(programme_id=filters["programme"])
    if filters.get("applicant"):
        applications = applications.filter(applicant_id=filters["applicant"])
    if filters.get("older_than_days") is not None:
        cutoff = timezone.now() - timedelta(days=int(filters["older_than_days"]))
        applications = applications.filter(submitted_at__lte=cutoff)
    if filters.get("overdue") is True:
        applications = applications.filter(
            status__in=OPEN_APPLICATION_STATUSES, submitted_at__lt=_deadline_cutoff()
        )
    elif filters.get("overdue") is False:
        applications = applications.exclude(
            status__in=OPEN_APPLICATION_STATUSES, submitted_at__lt=_deadline_cutoff()
        )
    return applications


def _annotated(applications: QuerySet[HostingApplication]) -> QuerySet[HostingApplication]:
    """Site and camera counts, age since submission (days) and the overdue flag, in one query."""
    age = ExpressionWrapper(Now() - F("submitted_at"), output_field=DurationField())
    return applications.select_related("applicant", "programme", "kota").annotate(
        site_count=Count("candidate_sites", distinct=True),
        camera_count=Coalesce(Sum("candidate_sites__cameras_planned"), Value(0)),
        age_days=Case(
            When(submitted_at__isnull=True, then=Value(None)),
            default=Extract(age, "day"),
            output_field=IntegerField(),
        ),
        overdue=Case(
            When(
                status__in=OPEN_APPLICATION_STATUSES,
                submitted_at__lt=_deadline_cutoff(),
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        ),
    )


def application_list(*, user, filters: dict | None = None) -> QuerySet[HostingApplication]:
    """The applications `user` may see (officers: all, or their kota; partners: their own and
    corridors they take part in), with filters kota, kecamatan, status, programme, applicant,
    older_than_days and overdue."""
    applications = filter_applications(_visible_applications(user), filters or {})
    return _annotated(applications).order_by("-created_at", "-id")


def review_queue(*, user, filters: dict | None = None) -> QuerySet[HostingApplication]:
    """Open applications for officers, oldest submission first, with `age_days` and `overdue`.

    A Sudin officer's queue holds only their kota (through the permission scope).
    """
    if not is_officer(user):
        return HostingApplication.objects.none()
    applications = scope_queryset(user, HostingApplication.objects.all()).filter(
        status__in=OPEN_APPLICATION_STATUSES
    )
    applications = filter_applications(applications, filters or {})
    return _annotated(applications).order_by("submitted_at", "id")


def application_get(*, user, pk: int) -> HostingApplication:
    """One visible application with everything its detail shows, or 404."""
    try:
        return application_detail_queryset(user=user).get(pk=pk)
    except (HostingApplication.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def application_detail_queryset(*, user) -> QuerySet[HostingApplication]:
    return (
        _annotated(_visible_applications(user))
        .prefetch_related(
            "parties__partner",
            "candidate_sites__site__kelurahan__parent__parent",
            "candidate_sites__site__pole__owner",
            "attachments__uploaded_by",
        )
        .select_related("submitted_by", "technical_reviewer", "created_by")
    )


def application_decisions(*, application: HostingApplication) -> QuerySet[ApplicationDecision]:
    """The append-only history of an application, oldest first."""
    return application.decisions.select_related("actor").order_by("created_at", "id")


def application_next_steps(*, application: HostingApplication) -> list[dict]:
    """What happens now, in plain words: each step with `code`, `text` and `done`."""
    status = application.status
    if status == ApplicationStatus.APPROVED:
        return [
            {
                "code": "sites_approved",
                "text": _("Your candidate sites are approved and their pole slots reserved."),
                "done": True,
            },
            {
                "code": "contract",
                "text": _(
                    "Kominfotik will draft the partnership contract (PKS) and send it to you "
                    "to sign. You do not need to do anything until then."
                ),
                "done": False,
            },
            {
                "code": "install",
                "text": _(
                    "Once the contract is signed, install the cameras on the approved sites "
                    "and register them on Mitra CCTV; an officer then confirms the installation."
                ),
                "done": False,
            },
        ]
    if status == ApplicationStatus.DRAFT:
        steps = [
            {
                "code": "add_sites",
                "text": _("Add at least one candidate site, then submit the application."),
                "done": application.candidate_sites.exists(),
            }
        ]
        if application.candidate_sites.filter(pole_consent=PoleConsent.PENDING).exists():
            steps.append(
                {
                    "code": "pole_consent",
                    "text": _("A pole owner has been asked to accept a camera on its pole."),
                    "done": False,
                }
            )
        return steps
    if status in OPEN_APPLICATION_STATUSES:
        return [
            {
                "code": "review",
                "text": _(
                    "Kominfotik is reviewing the application (technical, then legal review). "
                    "You will get an email at each decision."
                ),
                "done": False,
            }
        ]
    return [
        {
            "code": "closed",
            "text": _("This application is closed; you may start a new one."),
            "done": True,
        }
    ]


# --- Candidate sites and pole consent -------------------------------------------------------


def application_site_list(*, user, filters: dict | None = None) -> QuerySet[ApplicationSite]:
    """Candidate-site entries `user` may see: those of visible applications, plus the entries
    on poles of the user's partners that need (or got) the pole owner's answer."""
    entries = ApplicationSite.objects.all()
    visible = entries.filter(application__in=_visible_applications(user).values("pk"))
    if user.is_authenticated and not (is_officer(user) or is_operator(user)):
        on_my_poles = entries.filter(site__pole__owner__in=partner_ids_for(user)).exclude(
            pole_consent=PoleConsent.NOT_NEEDED
        )
        visible = entries.filter(
            Q(pk__in=visible.values("pk")) | Q(pk__in=on_my_poles.values("pk"))
        )
    filters = filters or {}
    if filters.get("pole_consent"):
        visible = visible.filter(pole_consent=filters["pole_consent"])
    if filters.get("application"):
        visible = visible.filter(application_id=filters["application"])
    return visible.select_related(
        "application__applicant",
        "site__kelurahan__parent__parent",
        "site__pole__owner",
        "pole_consent_by",
    ).order_by("application_id", "id")


def pole_consent_requests(*, user) -> QuerySet[ApplicationSite]:
    """Entries awaiting an answer from one of the user's pole-owner partners."""
    if not user.is_authenticated:
        return ApplicationSite.objects.none()
    return (
        ApplicationSite.objects.filter(
            site__pole__owner__in=partner_ids_for(user), pole_consent=PoleConsent.PENDING
        )
        .select_related("application__applicant", "site__kelurahan", "site__pole")
        .order_by("id")
    )


def response_template_list() -> QuerySet[ResponseTemplate]:
    return ResponseTemplate.objects.all()


def candidate_pole_choices() -> QuerySet[UtilityPole]:
    """Poles that can still take a camera, of any owner: poles sit on the public map, and the
    owner's consent step protects a pole that is not the applicant's."""
    return (
        UtilityPole.objects.filter(slots_used__lt=F("slots_total"))
        .select_related("owner", "kelurahan")
        .order_by("owner__name", "code")
    )
