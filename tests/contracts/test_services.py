import threading
from datetime import date, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone, translation

from contracts import selectors, services
from contracts.models import (
    ApplicationDecision,
    ApplicationSite,
    ApplicationStatus,
    HostingApplication,
    PoleConsent,
    Programme,
    ProgrammeStatus,
    ResponseTemplate,
)
from partners.models import PartnerKind
from portal.errors import Conflict, PermissionDenied, ServiceError
from portal.roles import Role
from sites.models import HostKind, Site, SiteStatus, UtilityPole
from tests import factories

# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _english():
    """Service messages are matched in their English source (Indonesian is the default)."""
    with translation.override("en"):
        yield


@pytest.fixture
def applicant(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def reviewer(db):
    return factories.officer(Role.OFFICER_REVIEWER)


@pytest.fixture
def pole_owner_user(db):
    return factories.UserFactory()


@pytest.fixture
def pole_partner(pole_owner_user):
    return factories.verified_partner(pole_owner_user, kind=PartnerKind.POLE_OWNER)


@pytest.fixture
def pole(pole_partner):
    return factories.make_pole(pole_partner, slots_total=1)


def _add_pole_site(application, actor, pole) -> ApplicationSite:
    return services.application_add_site(
        application=application,
        actor=actor,
        address="Jl. Tiang No. 7",
        host_kind=HostKind.POLE,
        pole=pole,
        cameras_planned=1,
        **factories.point_in(),
    )


def _to_technical(application, owner, reviewer):
    services.application_submit(application=application, actor=owner)
    services.application_start_review(application=application, actor=reviewer)
    return application


def _to_legal(application, owner, reviewer):
    _to_technical(application, owner, reviewer)
    services.application_finish_technical_review(application=application, actor=reviewer)
    return application


def _steps(application) -> list[tuple[str, str, str]]:
    return list(
        application.decisions.order_by("created_at", "id").values_list(
            "old_status", "new_status", "decision"
        )
    )


# --- Programmes -----------------------------------------------------------------------------


def test_programme_lifecycle_to_closed_with_four_eyes(reviewer, approver):
    programme = factories.make_programme(reviewer, kelurahan_codes=["31.71.01.1001"])
    assert programme.status == ProgrammeStatus.DRAFT
    assert {b.source: b.amount for b in programme.budget.all()} == {
        "apbd": 500_000_000,
        "csr": 250_000_000,
    }
    services.programme_submit(programme=programme, actor=approver)
    with pytest.raises(PermissionDenied, match="Four-eyes"):
        services.programme_approve(programme=programme, actor=approver)
    with pytest.raises(PermissionDenied):
        services.programme_approve(programme=programme, actor=reviewer)  # not an approver
    other_approver = factories.officer()
    services.programme_approve(programme=programme, actor=other_approver)
    services.programme_activate(programme=programme, actor=reviewer)
    services.programme_close(programme=programme, actor=reviewer)
    programme.refresh_from_db()
    assert programme.status == ProgrammeStatus.CLOSED
    assert list(programme.status_changes.values_list("new_status", "actor")) == [
        ("draft", reviewer.pk),
        ("submitted", approver.pk),
        ("approved", other_approver.pk),
        ("active", reviewer.pk),
        ("closed", reviewer.pk),
    ]


def test_programme_return_needs_reason_and_allows_edit_again(reviewer, approver):
    programme = factories.make_programme(reviewer, status="submitted")
    with pytest.raises(Conflict, match="Only a draft"):
        services.programme_update(programme=programme, actor=reviewer, title="New")
    with pytest.raises(ServiceError, match="what must change"):
        services.programme_return(programme=programme, actor=approver, reason=" ")
    services.programme_return(programme=programme, actor=approver, reason="Add RW 05.")
    services.programme_update(
        programme=programme, actor=reviewer, title="New title", budget={"apbd": 1}
    )
    programme.refresh_from_db()
    assert (programme.status, programme.title) == (ProgrammeStatus.DRAFT, "New title")
    assert list(programme.budget.values_list("source", "amount")) == [("apbd", 1)]


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"apbd": -1}, "negative"),
        ({"apbd": 1.5}, "whole"),
        ({"apbd": "lots"}, "whole"),
        ({"gold": 5}, "Unknown funding source"),
    ],
)
def test_programme_create_refuses_bad_budget_and_stores_nothing(reviewer, budget, message):
    with pytest.raises(ServiceError, match=message) as caught:
        factories.make_programme(reviewer, budget=budget)
    assert caught.value.field == "budget"
    assert not Programme.objects.exists()


def test_programme_create_refuses_period_ending_before_start(reviewer):
    with pytest.raises(ServiceError, match="end before it starts"):
        factories.make_programme(
            reviewer, period_start=date(2026, 5, 1), period_end=date(2026, 4, 30)
        )
    assert not Programme.objects.exists()


def test_programme_create_refuses_non_kelurahan_target(reviewer):
    with pytest.raises(ServiceError, match="not a kelurahan"):
        factories.make_programme(reviewer, kelurahan_codes=["31.71.01"])


def test_programme_create_sudin_only_for_own_kota(db):
    sudin_pusat = factories.sudin_officer("31.71")
    with pytest.raises(PermissionDenied, match="outside your kota"):
        factories.make_programme(sudin_pusat, kelurahan_codes=["31.72.01.1001"])
    programme = factories.make_programme(sudin_pusat, kelurahan_codes=["31.71.01.1001"])
    assert programme.created_by == sudin_pusat
    # ... and may not act on a programme reaching outside it.
    wide = factories.make_programme(kelurahan_codes=["31.71.01.1001", "31.72.01.1001"])
    with pytest.raises(PermissionDenied):
        services.programme_submit(programme=wide, actor=sudin_pusat)


def test_programme_create_refused_for_partner_member(owner, applicant):
    with pytest.raises(PermissionDenied):
        factories.make_programme(owner)


# --- Application lifecycles -----------------------------------------------------------------


def test_application_full_approve_path_reserves_slots_and_records_every_step(
    applicant, owner, reviewer, approver, pole, pole_partner, pole_owner_user
):
    application = factories.make_application(applicant, cofunding_cash=10_000_000)
    entry = _add_pole_site(application, owner, pole)
    assert entry.pole_consent == PoleConsent.PENDING
    application.refresh_from_db()
    assert application.kota.code == "31.71"

    _to_technical(application, owner, reviewer)
    services.pole_consent_accept(entry=entry, actor=pole_owner_user, comment="OK, slot 1.")
    services.application_finish_technical_review(application=application, actor=reviewer)
    services.application_approve(application=application, actor=approver, comment="Good.")

    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.technical_reviewer == reviewer
    assert set(
        Site.objects.filter(application_entry__application=application).values_list(
            "status", flat=True
        )
    ) == {SiteStatus.APPROVED}
    pole.refresh_from_db()
    assert pole.slots_used == 1
    assert _steps(application) == [
        ("", "draft", "created"),
        ("draft", "submitted", "submitted"),
        ("submitted", "technical_review", "review_started"),
        ("technical_review", "technical_review", "pole_accepted"),
        ("technical_review", "legal_review", "technical_passed"),
        ("legal_review", "approved", "approved"),
    ]
    approved = application.decisions.get(decision="approved")
    assert (approved.actor, approved.reason) == (approver, "Good.")
    steps = selectors.application_next_steps(application=application)
    assert [s["code"] for s in steps] == ["sites_approved", "contract", "install"]
    assert "Kominfotik will draft the partnership contract" in steps[1]["text"]


def test_application_reject_with_template_rejects_candidate_sites(applicant, owner, reviewer):
    reviewer.language = "en"
    reviewer.save()
    application = _to_technical(factories.make_application(applicant, sites=2), owner, reviewer)
    with pytest.raises(ServiceError, match="Give a comment"):
        services.application_reject(application=application, actor=reviewer, comment="")
    services.application_reject(
        application=application,
        actor=reviewer,
        comment="See page 3.",
        template="missing-documents",
    )
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REJECTED
    reason = application.decisions.get(decision="rejected").reason
    body = ResponseTemplate.objects.get(code="missing-documents").body_en
    assert reason == f"{body}\n\nSee page 3."
    assert set(
        Site.objects.filter(application_entry__application=application).values_list(
            "status", flat=True
        )
    ) == {SiteStatus.REJECTED}


def test_application_template_text_follows_the_officer_language(applicant, owner, reviewer):
    reviewer.language = "id"
    reviewer.save()
    application = _to_technical(factories.make_application(applicant), owner, reviewer)
    services.application_return(
        application=application, actor=reviewer, template="location-unclear"
    )
    body = ResponseTemplate.objects.get(code="location-unclear").body_id
    assert application.decisions.get(decision="returned").reason == body


def test_application_return_edit_resubmit(applicant, owner, reviewer, approver):
    application = _to_legal(factories.make_application(applicant), owner, reviewer)
    with pytest.raises(ServiceError, match="Give a comment"):
        services.application_return(application=application, actor=approver, comment=" ")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.LEGAL_REVIEW

    services.application_return(application=application, actor=approver, comment="Fix title")
    application.refresh_from_db()
    assert (application.status, application.technical_reviewer) == ("draft", None)
    services.application_update(application=application, actor=owner, title="Better title")
    services.application_submit(application=application, actor=owner)
    application.refresh_from_db()
    assert (application.status, application.title) == ("submitted", "Better title")
    assert [d for _, _, d in _steps(application)][-2:] == ["returned", "submitted"]


def test_application_withdraw_rejects_sites_and_only_before_review(applicant, owner, reviewer):
    draft = factories.make_application(applicant)
    services.application_submit(application=draft, actor=owner)
    services.application_withdraw(application=draft, actor=owner, comment="Changed plans")
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.WITHDRAWN
    site = Site.objects.get(application_entry__application=draft)
    assert site.status == SiteStatus.REJECTED
    assert site.status_changes.latest("created_at", "id").reason == "withdrawn by applicant"

    in_review = _to_technical(factories.make_application(applicant), owner, reviewer)
    with pytest.raises(Conflict):
        services.application_withdraw(application=in_review, actor=owner)
    in_review.refresh_from_db()
    assert in_review.status == ApplicationStatus.TECHNICAL_REVIEW


def test_application_withdraw_refused_for_technician_and_strangers(applicant, other_owner):
    from partners import services as partner_services
    from partners.models import MemberRole

    technician = factories.UserFactory()
    partner_services.membership_add(partner=applicant, user=technician, role=MemberRole.TECHNICIAN)
    application = factories.make_application(applicant)
    for actor in (technician, other_owner):
        with pytest.raises(PermissionDenied):
            services.application_withdraw(application=application, actor=actor)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT


def test_application_remove_site_rejects_the_proposed_site(applicant, owner):
    application = factories.make_application(applicant, sites=2)
    first, second = application.candidate_sites.order_by("id")
    services.application_remove_site(application=application, actor=owner, site=first.site)
    first.site.refresh_from_db()
    assert first.site.status == SiteStatus.REJECTED
    assert list(application.candidate_sites.all()) == [second]
    assert first.site.status_changes.latest("created_at", "id").reason == (
        "removed from application"
    )


def test_application_submit_needs_a_site(applicant, owner):
    application = factories.make_application(applicant, sites=0)
    with pytest.raises(ServiceError, match="at least one candidate site"):
        services.application_submit(application=application, actor=owner)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    assert application.submitted_at is None


# --- Illegal transitions --------------------------------------------------------------------


def _reach(status: str, applicant, owner, reviewer):
    application = factories.make_application(applicant)
    if status == "draft":
        return application
    if status == "withdrawn":
        services.application_withdraw(application=application, actor=owner)
        return application
    services.application_submit(application=application, actor=owner)
    if status == "submitted":
        return application
    services.application_start_review(application=application, actor=reviewer)
    if status == "technical_review":
        return application
    if status == "rejected":
        services.application_reject(application=application, actor=reviewer, comment="no")
        return application
    services.application_finish_technical_review(application=application, actor=reviewer)
    if status == "legal_review":
        return application
    services.application_approve(application=application, actor=factories.officer())
    return application


_STEPS = {
    "submit": lambda a, owner, officer: services.application_submit(application=a, actor=owner),
    "withdraw": lambda a, owner, officer: services.application_withdraw(application=a, actor=owner),
    "start_review": lambda a, owner, officer: services.application_start_review(
        application=a, actor=officer
    ),
    "finish": lambda a, owner, officer: services.application_finish_technical_review(
        application=a, actor=officer
    ),
    "approve": lambda a, owner, officer: services.application_approve(application=a, actor=officer),
    "reject": lambda a, owner, officer: services.application_reject(
        application=a, actor=officer, comment="no"
    ),
    "return": lambda a, owner, officer: services.application_return(
        application=a, actor=officer, comment="fix"
    ),
}
_LEGAL = {
    "draft": {"submit", "withdraw"},
    "submitted": {"start_review", "withdraw", "reject", "return"},
    "technical_review": {"finish", "reject", "return"},
    "legal_review": {"approve", "reject", "return"},
    "approved": set(),
    "rejected": set(),
    "withdrawn": set(),
}
_ILLEGAL = [
    (status, step) for status, legal in _LEGAL.items() for step in _STEPS if step not in legal
]


@pytest.mark.parametrize(("status", "step"), _ILLEGAL)
def test_application_illegal_transition_refused_and_nothing_changes(
    applicant, owner, reviewer, status, step
):
    application = _reach(status, applicant, owner, reviewer)
    decisions = application.decisions.count()
    fresh_approver = factories.officer()  # four-eyes clean: has not touched this application
    with pytest.raises(Conflict):
        _STEPS[step](HostingApplication.objects.get(pk=application.pk), owner, fresh_approver)
    application.refresh_from_db()
    assert application.status == status
    assert application.decisions.count() == decisions


# --- Four-eyes ------------------------------------------------------------------------------


def test_four_eyes_technical_reviewer_cannot_approve(applicant, owner, approver):
    application = _to_legal(factories.make_application(applicant), owner, approver)
    with pytest.raises(PermissionDenied, match="neither the submitter nor the technical"):
        services.application_approve(application=application, actor=approver)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.LEGAL_REVIEW
    assert not application.decisions.filter(decision="approved").exists()


def test_four_eyes_submitter_cannot_review_or_approve(applicant, reviewer):
    # A superuser who is also a member of the applicant submits; they may not decide on it.
    boss = factories.UserFactory(is_superuser=True)
    from partners import services as partner_services
    from partners.models import MemberRole

    partner_services.membership_add(partner=applicant, user=boss, role=MemberRole.STAFF)
    application = factories.make_application(applicant, actor=boss)
    services.application_submit(application=application, actor=boss)
    with pytest.raises(PermissionDenied, match="you submitted"):
        services.application_start_review(application=application, actor=boss)
    services.application_start_review(application=application, actor=reviewer)
    services.application_finish_technical_review(application=application, actor=reviewer)
    with pytest.raises(PermissionDenied, match="neither the submitter"):
        services.application_approve(application=application, actor=boss)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.LEGAL_REVIEW


def test_reviewer_role_cannot_approve_and_partner_cannot_review(applicant, owner, reviewer):
    application = _to_legal(factories.make_application(applicant), owner, factories.officer())
    with pytest.raises(PermissionDenied, match="approver"):
        services.application_approve(application=application, actor=reviewer)
    other = factories.make_application(applicant)
    services.application_submit(application=other, actor=owner)
    with pytest.raises(PermissionDenied):
        services.application_start_review(application=other, actor=owner)


def test_sudin_officer_reviews_only_own_kota(applicant, owner):
    application = factories.make_application(applicant)  # Jakarta Pusat (31.71)
    services.application_submit(application=application, actor=owner)
    with pytest.raises(PermissionDenied):
        services.application_start_review(
            application=application, actor=factories.sudin_officer("31.72")
        )
    services.application_start_review(
        application=application, actor=factories.sudin_officer("31.71")
    )
    application.refresh_from_db()
    assert application.status == ApplicationStatus.TECHNICAL_REVIEW


# --- Pole consent and slots -----------------------------------------------------------------


def test_pole_consent_required_before_technical_review_finishes(
    applicant, owner, reviewer, pole, pole_owner_user, other_owner
):
    application = factories.make_application(applicant, sites=0)
    entry = _add_pole_site(application, owner, pole)
    _to_technical(application, owner, reviewer)
    with pytest.raises(ServiceError, match="The pole owner must accept before review can finish"):
        services.application_finish_technical_review(application=application, actor=reviewer)
    with pytest.raises(PermissionDenied):  # the applicant cannot consent for the pole owner
        services.pole_consent_accept(entry=entry, actor=owner)
    with pytest.raises(PermissionDenied):
        services.pole_consent_accept(entry=entry, actor=other_owner)
    with pytest.raises(ServiceError, match="why you decline"):
        services.pole_consent_decline(entry=entry, actor=pole_owner_user, comment="")
    services.pole_consent_decline(entry=entry, actor=pole_owner_user, comment="Pole is full.")
    with pytest.raises(ServiceError, match="must accept"):
        services.application_finish_technical_review(application=application, actor=reviewer)
    with pytest.raises(Conflict, match="already been answered"):
        services.pole_consent_accept(entry=entry, actor=pole_owner_user)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.TECHNICAL_REVIEW
    entry.refresh_from_db()
    assert (entry.pole_consent, entry.pole_consent_by) == (PoleConsent.DECLINED, pole_owner_user)


def test_pole_consent_not_needed_on_own_or_co_applicant_pole(owner, applicant, pole, pole_partner):
    pole_company = factories.verified_partner(owner, kind=PartnerKind.POLE_OWNER)
    own_pole = factories.make_pole(pole_company)
    own = factories.make_application(pole_company, sites=0)
    assert _add_pole_site(own, owner, own_pole).pole_consent == PoleConsent.NOT_NEEDED
    # Being a member of both partners is not enough: the applicant itself does not own it.
    other = factories.make_application(applicant, sites=0)
    assert _add_pole_site(other, owner, own_pole).pole_consent == PoleConsent.PENDING

    corridor = factories.make_application(
        applicant, sites=0, co_applicants=[(pole_partner, 1_000_000)]
    )
    assert _add_pole_site(corridor, owner, pole).pole_consent == PoleConsent.NOT_NEEDED


def test_approval_on_full_pole_fails_cleanly(
    applicant, owner, reviewer, approver, pole, pole_partner
):
    corridor_kwargs = {"co_applicants": [(pole_partner, 0)]}
    first = factories.make_application(applicant, sites=0, **corridor_kwargs)
    second = factories.make_application(applicant, sites=0, **corridor_kwargs)
    _add_pole_site(first, owner, pole)
    _add_pole_site(second, owner, pole)
    for application in (first, second):
        _to_legal(application, owner, reviewer)
    services.application_approve(application=first, actor=approver)

    with pytest.raises(Conflict, match="no free attachment slot"):
        services.application_approve(application=second, actor=approver)
    second.refresh_from_db()
    assert second.status == ApplicationStatus.LEGAL_REVIEW
    assert not second.decisions.filter(decision="approved").exists()
    assert Site.objects.get(application_entry__application=second).status == SiteStatus.PROPOSED
    assert UtilityPole.objects.get(pk=pole.pk).slots_used == 1


# --- Bad input: a clear error, nothing stored -----------------------------------------------


def test_add_site_outside_jakarta_refused(applicant, owner):
    application = factories.make_application(applicant, sites=0)
    with pytest.raises(ServiceError, match="outside DKI Jakarta"):
        services.application_add_site(
            application=application,
            actor=owner,
            lat="-6.9175",  # Bandung
            lon="107.6191",
            address="Jl. Asia Afrika",
            host_kind=HostKind.BUILDING,
        )
    assert not ApplicationSite.objects.exists()
    assert not Site.objects.exists()
    application.refresh_from_db()
    assert application.kota is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cofunding_cash", -5, "negative"),
        ("cofunding_in_kind", 2.5, "whole"),
        ("cofunding_csr", "1e6", "whole"),
        ("cofunding_cash", True, "whole"),
    ],
)
def test_application_create_refuses_bad_amount(applicant, owner, field, value, message):
    with pytest.raises(ServiceError, match=message) as caught:
        services.application_create(
            applicant=applicant,
            actor=owner,
            title="T",
            maintenance_commitment="M",
            **{field: value},
        )
    assert caught.value.field == field
    assert not HostingApplication.objects.exists()


def test_application_create_refuses_programme_not_approved(applicant, owner):
    programme = factories.make_programme(status="submitted")
    with pytest.raises(ServiceError, match="approved or active programme"):
        factories.make_application(applicant, programme=programme)
    assert not HostingApplication.objects.exists()
    programme = factories.make_programme(status="active")
    assert factories.make_application(applicant, programme=programme).programme == programme


def test_application_create_refuses_unverified_applicant_and_strangers(partner, owner, other_owner):
    with pytest.raises(ServiceError, match="not a verified partner"):
        factories.make_application(partner, sites=0)
    verified = factories.verified_partner(owner)
    with pytest.raises(PermissionDenied):
        factories.make_application(verified, actor=other_owner, sites=0)
    assert not HostingApplication.objects.exists()


def test_corridor_co_applicants_checked(applicant, owner, other_owner):
    neighbour = factories.verified_partner(other_owner)
    unverified = factories.make_partner()
    cases = [
        ([(applicant, 0)], "its own co-applicant"),
        ([(neighbour, 1), (neighbour, 2)], "listed twice"),
        ([(unverified, 0)], "not a verified partner"),
        ([(neighbour, -1)], "negative"),
    ]
    for co_applicants, message in cases:
        with pytest.raises(ServiceError, match=message):
            factories.make_application(applicant, sites=0, co_applicants=co_applicants)
    assert not HostingApplication.objects.exists()


def test_corridor_application_visible_to_co_applicant_only(applicant, owner, other_owner):
    neighbour = factories.verified_partner(other_owner)
    corridor = factories.make_application(applicant, co_applicants=[(neighbour, 5_000_000)])
    stranger = factories.verified_partner().created_by
    assert list(selectors.application_list(user=other_owner)) == [corridor]
    assert list(selectors.application_list(user=owner)) == [corridor]
    assert list(selectors.application_list(user=stranger)) == []
    assert selectors.application_get(user=other_owner, pk=corridor.pk) == corridor
    # A co-applicant sees it but does not run it.
    with pytest.raises(PermissionDenied):
        services.application_submit(application=corridor, actor=other_owner)


def test_pole_owner_sees_entries_to_decide_not_the_application(
    applicant, owner, pole, pole_owner_user
):
    application = factories.make_application(applicant, sites=1)
    entry = _add_pole_site(application, owner, pole)
    assert list(selectors.pole_consent_requests(user=pole_owner_user)) == [entry]
    assert list(selectors.application_site_list(user=pole_owner_user)) == [entry]
    assert list(selectors.application_list(user=pole_owner_user)) == []
    assert application.candidate_sites.count() == 2


# --- Emails ---------------------------------------------------------------------------------


def test_decision_emails_reach_owners_in_their_language(
    applicant, owner, other_owner, reviewer, django_capture_on_commit_callbacks
):
    owner.language = "en"
    owner.save()
    other_owner.language = "id"
    other_owner.save()
    neighbour = factories.verified_partner(other_owner)
    application = factories.make_application(applicant, co_applicants=[(neighbour, 0)])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_start_review(application=application, actor=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_return(
            application=application, actor=reviewer, comment="Add the building permit."
        )
    by_recipient: dict[str, list] = {}
    for message in mail.outbox:
        by_recipient.setdefault(message.to[0], []).append(message)
    assert set(by_recipient) == {owner.email, other_owner.email}
    english = by_recipient[owner.email]
    assert [m.subject.split(":")[0] for m in english] == [
        "Application received",
        "Review started",
        "Changes requested",
    ]
    assert 'lang="en"' in english[0].alternatives[0][0]
    assert 'lang="id"' in by_recipient[other_owner.email][0].alternatives[0][0]
    assert "Add the building permit." in english[2].body


def test_pole_owner_asked_for_consent_by_email(
    applicant, owner, pole, pole_owner_user, django_capture_on_commit_callbacks
):
    application = factories.make_application(applicant, sites=0)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _add_pole_site(application, owner, pole)
    assert [m.to for m in mail.outbox] == [[pole_owner_user.email]]
    assert pole.code in mail.outbox[0].subject


def test_no_email_when_approval_rolls_back(
    applicant, owner, reviewer, approver, pole, pole_partner, django_capture_on_commit_callbacks
):
    kwargs = {"co_applicants": [(pole_partner, 0)], "sites": 0}
    first, second = (factories.make_application(applicant, **kwargs) for _ in range(2))
    for application in (first, second):
        _add_pole_site(application, owner, pole)
        _to_legal(application, owner, reviewer)
    services.application_approve(application=first, actor=approver)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict):
        services.application_approve(application=second, actor=approver)
    assert mail.outbox == []


# --- Review queue ---------------------------------------------------------------------------


def test_review_queue_oldest_first_with_age_and_overdue(applicant, owner, reviewer, settings):
    settings.REVIEW_DEADLINE_DAYS = 14
    old, fresh, draft = (factories.make_application(applicant) for _ in range(3))
    for application in (old, fresh):
        services.application_submit(application=application, actor=owner)
    HostingApplication.objects.filter(pk=old.pk).update(
        submitted_at=timezone.now() - timedelta(days=20)
    )
    queue = list(selectors.review_queue(user=reviewer))
    assert [a.pk for a in queue] == [old.pk, fresh.pk]
    assert [(a.age_days, a.overdue) for a in queue] == [(20, True), (0, False)]
    assert [a.pk for a in selectors.review_queue(user=reviewer, filters={"overdue": True})] == [
        old.pk
    ]
    assert [
        a.pk for a in selectors.review_queue(user=reviewer, filters={"older_than_days": 10})
    ] == [old.pk]
    assert draft.pk not in [a.pk for a in queue]
    assert list(selectors.review_queue(user=owner)) == []


def test_review_queue_sudin_sees_only_own_kota(owner, applicant):
    pusat = factories.make_application(applicant)
    utara = factories.make_application(applicant, kelurahan_code="31.72.01.1001")
    for application in (pusat, utara):
        services.application_submit(application=application, actor=owner)
    assert [a.pk for a in selectors.review_queue(user=factories.sudin_officer("31.71"))] == [
        pusat.pk
    ]
    assert [a.pk for a in selectors.review_queue(user=factories.sudin_officer("31.72"))] == [
        utara.pk
    ]
    city = selectors.review_queue(user=factories.officer(), filters={"kota": "31.72"})
    assert [a.pk for a in city] == [utara.pk]
    by_kecamatan = selectors.review_queue(
        user=factories.officer(), filters={"kecamatan": "31.71.01"}
    )
    assert [a.pk for a in by_kecamatan] == [pusat.pk]


# --- Concurrency (real PostgreSQL row locks, one connection per thread) ----------------------


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.usefixtures("areas_after_flush")
def test_application_approve_concurrent_exactly_one_wins():
    owner = factories.UserFactory()
    applicant = factories.verified_partner(owner)
    pole_partner = factories.verified_partner(kind=PartnerKind.POLE_OWNER)
    pole = factories.make_pole(pole_partner, slots_total=2)
    application = factories.make_application(applicant, sites=0, co_applicants=[(pole_partner, 0)])
    _add_pole_site(application, owner, pole)
    _to_legal(application, owner, factories.officer(Role.OFFICER_REVIEWER))
    approvers = [factories.officer(), factories.officer()]
    results = _race(
        *(
            lambda a=a: services.application_approve(
                application=HostingApplication.objects.get(pk=application.pk), actor=a
            )
            for a in approvers
        )
    )
    winners = [r for r in results if isinstance(r, HostingApplication)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(losers)) == (1, 1), results
    assert (
        ApplicationDecision.objects.filter(application=application, decision="approved").count()
        == 1
    )
    assert UtilityPole.objects.get(pk=pole.pk).slots_used == 1
