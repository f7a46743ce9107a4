"""Every write to programmes and hosting applications goes through here.

Each status change is one service: it checks who may act, locks the row (so of two officers
deciding at the same moment exactly one wins and the other gets a Conflict), checks the
transition table beside the model, and records one append-only row (ProgrammeStatusChange or
ApplicationDecision) with actor, time, step, decision and comment. Site lifecycles belong to
`sites`: candidate sites are proposed, approved and rejected only through sites.services.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import date

from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts import tasks
from contracts.models import (
    APPLICATION_TRANSITIONS,
    PROGRAMME_TRANSITIONS,
    ApplicationAttachment,
    ApplicationDecision,
    ApplicationParty,
    ApplicationSite,
    ApplicationStatus,
    FundingSource,
    HostingApplication,
    PoleConsent,
    Programme,
    ProgrammeBudget,
    ProgrammeStatus,
    ProgrammeStatusChange,
    ResponseTemplate,
)
from partners.models import MemberRole, Membership, Partner, PartnerStatus
from portal.audit import transition
from portal.documents import store_pdf
from portal.errors import Conflict, PermissionDenied, ServiceError, full_clean_or_raise
from portal.roles import Role, is_city_officer, is_sudin_officer, role_names
from sites import services as site_services
from sites.models import Area, AreaLevel, Site, SiteStatus


class Decision(models.TextChoices):
    """What an ApplicationDecision row records (its `decision` field)."""

    CREATED = "created", gettext_lazy("Created")
    SUBMITTED = "submitted", gettext_lazy("Submitted")
    REVIEW_STARTED = "review_started", gettext_lazy("Technical review started")
    TECHNICAL_REVIEW_PASSED = "technical_passed", gettext_lazy("Technical review passed")
    APPROVED = "approved", gettext_lazy("Approved")
    REJECTED = "rejected", gettext_lazy("Rejected")
    RETURNED = "returned", gettext_lazy("Returned for changes")
    WITHDRAWN = "withdrawn", gettext_lazy("Withdrawn")
    POLE_ACCEPTED = "pole_accepted", gettext_lazy("Pole owner accepted")
    POLE_DECLINED = "pole_declined", gettext_lazy("Pole owner declined")


# The applicant (and co-applicants) hear about these by email.
EMAILED_DECISIONS = {
    Decision.SUBMITTED,
    Decision.REVIEW_STARTED,
    Decision.APPROVED,
    Decision.REJECTED,
    Decision.RETURNED,
    Decision.WITHDRAWN,
    Decision.POLE_ACCEPTED,
    Decision.POLE_DECLINED,
}

# Candidate sites still waiting for a decision; approved/rejected ones are left alone.
_UNDECIDED_SITE_STATUSES = {SiteStatus.PROPOSED, SiteStatus.SURVEYED}
# Statuses in which a pole owner may still answer (review cannot finish without the answer).
_POLE_CONSENT_OPEN = {
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.TECHNICAL_REVIEW,
}
_ATTACHABLE = {
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.TECHNICAL_REVIEW,
    ApplicationStatus.LEGAL_REVIEW,
}
_APPLICANT_ROLES = {MemberRole.OWNER, MemberRole.STAFF}


# --- Shared checks --------------------------------------------------------------------------


def _amount(value, field: str) -> int:
    """A Rupiah amount: a whole number ≥ 0. 1.5, "abc", True and -1 are all refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        raise ServiceError(
            _("Amounts are whole Rupiah: enter a whole number of 0 or more."), field=field
        )
    if value < 0:
        raise ServiceError(_("Amounts cannot be negative."), field=field)
    return value


def _status_label(choices: type[models.TextChoices], value: str) -> str:
    return str(dict(choices.choices).get(value, value))


def _is_member(user, partner: Partner, roles: Iterable[str] = _APPLICANT_ROLES) -> bool:
    return user.is_authenticated and (
        user.is_superuser
        or Membership.objects.filter(partner=partner, user=user, role__in=list(roles)).exists()
    )


def _require_applicant_member(actor, application: HostingApplication) -> None:
    if not _is_member(actor, application.applicant):
        raise PermissionDenied(
            _("Only the applicant's owners and staff can change this application.")
        )


def _require_verified(partner: Partner, field: str) -> None:
    if partner.status != PartnerStatus.VERIFIED:
        raise ServiceError(
            _("%(name)s is not a verified partner yet: Kominfotik must verify it first.")
            % {"name": partner.name},
            field=field,
        )


def _kota_id_of(area: Area) -> int | None:
    node = area
    while node is not None and node.level != AreaLevel.CITY:
        node = node.parent
    return node.pk if node else None


# --- Programmes -----------------------------------------------------------------------------


def _programme_kota_ids(programme: Programme) -> set[int | None]:
    return {_kota_id_of(area) for area in programme.target_kelurahan.select_related("parent")}


def _require_programme_officer(actor, programme: Programme | None = None) -> None:
    """City officers act on any programme; a Sudin officer only on one wholly in their kota."""
    if is_city_officer(actor):
        return
    if is_sudin_officer(actor) and (
        programme is None or _programme_kota_ids(programme) <= {actor.kota_id}
    ):
        return
    raise PermissionDenied(_("Only a Kominfotik officer for these areas can do this."))


def _target_kelurahan(actor, targets: Iterable) -> list[Area]:
    targets = list(targets or [])
    if not targets:
        raise ServiceError(_("Choose at least one target kelurahan."), field="target_kelurahan")
    codes = [t.code if isinstance(t, Area) else str(t) for t in targets]
    areas = list(Area.objects.filter(code__in=codes).select_related("parent"))
    found = {area.code: area for area in areas}
    missing = [code for code in codes if code not in found]
    if missing:
        raise ServiceError(
            _("Unknown area code: %(code)s.") % {"code": missing[0]}, field="target_kelurahan"
        )
    not_village = [area for area in areas if area.level != AreaLevel.VILLAGE]
    if not_village:
        raise ServiceError(
            _("%(name)s is not a kelurahan: programmes target kelurahan only.")
            % {"name": not_village[0].name},
            field="target_kelurahan",
        )
    if is_sudin_officer(actor):
        outside = [area for area in areas if _kota_id_of(area) != actor.kota_id]
        if outside:
            raise PermissionDenied(
                _("%(name)s is outside your kota: a Sudin officer proposes only for its own kota.")
                % {"name": outside[0].name},
            )
    return areas


def _budget(budget: Mapping[str, object] | None) -> dict[str, int]:
    cleaned: dict[str, int] = {}
    for source, amount in (budget or {}).items():
        if source not in FundingSource.values:
            raise ServiceError(
                _("Unknown funding source: %(source)s.") % {"source": source}, field="budget"
            )
        cleaned[source] = _amount(amount, "budget")
    return cleaned


def _check_period(period_start: date, period_end: date) -> None:
    if period_end < period_start:
        raise ServiceError(_("The period cannot end before it starts."), field="period_end")


def _set_budget(programme: Programme, budget: dict[str, int]) -> None:
    programme.budget.all().delete()
    ProgrammeBudget.objects.bulk_create(
        ProgrammeBudget(programme=programme, source=source, amount=amount)
        for source, amount in budget.items()
    )


@transaction.atomic
def programme_create(
    *,
    actor,
    title: str,
    rationale: str,
    target_kelurahan: Iterable,
    camera_target: int,
    period_start: date,
    period_end: date,
    budget: Mapping[str, object] | None = None,
) -> Programme:
    """An officer drafts a programme for target kelurahan, with its budget by funding source."""
    _require_programme_officer(actor)
    areas = _target_kelurahan(actor, target_kelurahan)
    cleaned_budget = _budget(budget)
    _check_period(period_start, period_end)
    if isinstance(camera_target, bool) or not isinstance(camera_target, int):
        raise ServiceError(_("The camera target must be a whole number."), field="camera_target")
    programme = Programme(
        title=(title or "").strip(),
        rationale=(rationale or "").strip(),
        camera_target=camera_target,
        period_start=period_start,
        period_end=period_end,
        created_by=actor,
        status_changed_at=timezone.now(),
    )
    full_clean_or_raise(programme)
    programme.save()
    programme.target_kelurahan.set(areas)
    _set_budget(programme, cleaned_budget)
    ProgrammeStatusChange.objects.create(
        programme=programme, actor=actor, old_status="", new_status=ProgrammeStatus.DRAFT
    )
    return programme


_PROGRAMME_FIELDS = {
    "title",
    "rationale",
    "target_kelurahan",
    "camera_target",
    "period_start",
    "period_end",
    "budget",
}


@transaction.atomic
def programme_update(*, programme: Programme, actor, **fields) -> Programme:
    """Edit a programme while it is a draft."""
    unknown = set(fields) - _PROGRAMME_FIELDS
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(sorted(unknown))}")
    _require_programme_officer(actor, programme)
    locked = Programme.objects.select_for_update().get(pk=programme.pk)
    if locked.status != ProgrammeStatus.DRAFT:
        raise Conflict(
            _("Only a draft programme can be edited; this one is %(status)s.")
            % {"status": _status_label(ProgrammeStatus, locked.status)},
            code="invalid_transition",
        )
    areas = (
        _target_kelurahan(actor, fields.pop("target_kelurahan"))
        if "target_kelurahan" in fields
        else None
    )
    budget = _budget(fields.pop("budget")) if "budget" in fields else None
    for name, value in fields.items():
        setattr(locked, name, value.strip() if isinstance(value, str) else value)
    _check_period(locked.period_start, locked.period_end)
    full_clean_or_raise(locked)
    locked.save()
    if areas is not None:
        locked.target_kelurahan.set(areas)
    if budget is not None:
        _set_budget(locked, budget)
    return locked


def _programme_step(
    *,
    programme: Programme,
    actor,
    to: str,
    reason: str = "",
    check: Callable[[Programme], None] | None = None,
) -> Programme:
    return transition(
        instance=programme,
        to=to,
        allowed=PROGRAMME_TRANSITIONS,
        log_model=ProgrammeStatusChange,
        log_fields={"programme": programme},
        actor=actor,
        reason=reason.strip(),
        extra={"status_changed_at": timezone.now()},
        check=check,
        conflict_message=_(
            "The programme is now “%(old)s”, so it cannot move to “%(new)s”. "
            "Someone may have acted on it first: reload it to see."
        ),
    )


def programme_submit(*, programme: Programme, actor, reason: str = "") -> Programme:
    _require_programme_officer(actor, programme)
    return _programme_step(
        programme=programme, actor=actor, to=ProgrammeStatus.SUBMITTED, reason=reason
    )


def _require_approver(actor) -> None:
    if not (actor.is_superuser or Role.OFFICER_APPROVER in role_names(actor)):
        raise PermissionDenied(_("Only a Kominfotik approver can take this decision."))


def _not_the_submitter(programme: Programme, actor) -> None:
    submitted = (
        programme.status_changes.filter(new_status=ProgrammeStatus.SUBMITTED)
        .order_by("-created_at", "-id")
        .first()
    )
    if submitted and submitted.actor_id == actor.pk:
        raise PermissionDenied(
            _("Four-eyes rule: you submitted this programme, so someone else must approve it.")
        )


def programme_approve(*, programme: Programme, actor, reason: str = "") -> Programme:
    """An approver (never the officer who submitted it) approves a submitted programme."""
    _require_approver(actor)
    return _programme_step(
        programme=programme,
        actor=actor,
        to=ProgrammeStatus.APPROVED,
        reason=reason,
        check=lambda locked: _not_the_submitter(locked, actor),
    )


def programme_return(*, programme: Programme, actor, reason: str) -> Programme:
    """An approver sends a submitted programme back to draft with comments."""
    _require_approver(actor)
    if not (reason or "").strip():
        raise ServiceError(_("Say what must change before it is resubmitted."), field="reason")
    return _programme_step(
        programme=programme, actor=actor, to=ProgrammeStatus.DRAFT, reason=reason
    )


def programme_activate(*, programme: Programme, actor, reason: str = "") -> Programme:
    _require_programme_officer(actor, programme)
    return _programme_step(
        programme=programme, actor=actor, to=ProgrammeStatus.ACTIVE, reason=reason
    )


def programme_close(*, programme: Programme, actor, reason: str = "") -> Programme:
    _require_programme_officer(actor, programme)
    return _programme_step(
        programme=programme, actor=actor, to=ProgrammeStatus.CLOSED, reason=reason
    )


# --- Applications: drafting -----------------------------------------------------------------


def _check_programme(programme: Programme | None) -> None:
    if programme is not None and programme.status not in {
        ProgrammeStatus.APPROVED,
        ProgrammeStatus.ACTIVE,
    }:
        raise ServiceError(
            _("Applications can only name an approved or active programme."), field="programme"
        )


def _co_applicants(
    applicant: Partner, co_applicants: Iterable[tuple[Partner, object]]
) -> list[tuple[Partner, int]]:
    cleaned: list[tuple[Partner, int]] = []
    seen: set[int] = set()
    for partner, cost_share in co_applicants or []:
        if partner.pk == applicant.pk:
            raise ServiceError(
                _("The applicant cannot also be its own co-applicant."), field="co_applicants"
            )
        if partner.pk in seen:
            raise ServiceError(
                _("%(name)s is listed twice as a co-applicant.") % {"name": partner.name},
                field="co_applicants",
            )
        _require_verified(partner, "co_applicants")
        seen.add(partner.pk)
        cleaned.append((partner, _amount(cost_share, "co_applicants")))
    return cleaned


def _set_co_applicants(
    application: HostingApplication, co_applicants: list[tuple[Partner, int]]
) -> None:
    application.parties.all().delete()
    ApplicationParty.objects.bulk_create(
        ApplicationParty(application=application, partner=partner, cost_share=share)
        for partner, share in co_applicants
    )


def _record(
    application: HostingApplication,
    *,
    actor,
    old: str,
    new: str,
    decision: str,
    reason: str = "",
    when=None,
) -> ApplicationDecision:
    row = ApplicationDecision.objects.create(
        application=application,
        actor=actor,
        old_status=old,
        new_status=new,
        decision=decision,
        reason=reason,
        created_at=when or timezone.now(),
    )
    _email_decision(row)
    return row


def _email_decision(row: ApplicationDecision) -> None:
    if row.decision in EMAILED_DECISIONS:
        tasks.send_application_decision_email.delay_on_commit(row.pk)


@transaction.atomic
def application_create(
    *,
    applicant: Partner,
    actor,
    title: str,
    maintenance_commitment: str,
    programme: Programme | None = None,
    cofunding_cash: object = 0,
    cofunding_in_kind: object = 0,
    cofunding_csr: object = 0,
    co_applicants: Iterable[tuple[Partner, object]] = (),
) -> HostingApplication:
    """A verified partner's owner or staff starts a draft application (alone or as a corridor)."""
    if not _is_member(actor, applicant):
        raise PermissionDenied(_("Only the partner's owners and staff can apply on its behalf."))
    _require_verified(applicant, "applicant")
    _check_programme(programme)
    parties = _co_applicants(applicant, co_applicants)
    application = HostingApplication(
        applicant=applicant,
        programme=programme,
        title=(title or "").strip(),
        maintenance_commitment=(maintenance_commitment or "").strip(),
        cofunding_cash=_amount(cofunding_cash, "cofunding_cash"),
        cofunding_in_kind=_amount(cofunding_in_kind, "cofunding_in_kind"),
        cofunding_csr=_amount(cofunding_csr, "cofunding_csr"),
        created_by=actor,
        status_changed_at=timezone.now(),
    )
    full_clean_or_raise(application)
    application.save()
    _set_co_applicants(application, parties)
    _record(
        application,
        actor=actor,
        old="",
        new=ApplicationStatus.DRAFT,
        decision=Decision.CREATED,
    )
    return application


_APPLICATION_FIELDS = {
    "title",
    "programme",
    "maintenance_commitment",
    "cofunding_cash",
    "cofunding_in_kind",
    "cofunding_csr",
    "co_applicants",
}


def _lock_draft(application: HostingApplication, what: str) -> HostingApplication:
    locked = HostingApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status != ApplicationStatus.DRAFT:
        raise Conflict(
            _("%(what)s only while the application is a draft; it is now %(status)s.")
            % {"what": what, "status": _status_label(ApplicationStatus, locked.status)},
            code="invalid_transition",
        )
    return locked


@transaction.atomic
def application_update(*, application: HostingApplication, actor, **fields) -> HostingApplication:
    """Edit a draft (also after it was returned with comments)."""
    unknown = set(fields) - _APPLICATION_FIELDS
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(sorted(unknown))}")
    _require_applicant_member(actor, application)
    locked = _lock_draft(application, _("The application can be edited"))
    if "programme" in fields:
        _check_programme(fields["programme"])
    parties = (
        _co_applicants(locked.applicant, fields.pop("co_applicants"))
        if "co_applicants" in fields
        else None
    )
    for name in ("cofunding_cash", "cofunding_in_kind", "cofunding_csr"):
        if name in fields:
            fields[name] = _amount(fields[name], name)
    for name, value in fields.items():
        setattr(locked, name, value.strip() if isinstance(value, str) else value)
    full_clean_or_raise(locked)
    locked.save()
    if parties is not None:
        _set_co_applicants(locked, parties)
        # A pole owned by a new (or no longer) co-applicant changes whose consent is needed.
        _refresh_pole_consents(locked)
    return locked


def _party_ids(application: HostingApplication) -> set[int]:
    return {application.applicant_id, *application.parties.values_list("partner_id", flat=True)}


def _refresh_pole_consents(application: HostingApplication) -> None:
    parties = _party_ids(application)
    for entry in application.candidate_sites.select_related("site__pole"):
        pole = entry.site.pole
        if pole is None:
            continue
        if pole.owner_id in parties and entry.pole_consent != PoleConsent.NOT_NEEDED:
            entry.pole_consent, entry.pole_consent_by, entry.pole_consent_at = (
                PoleConsent.NOT_NEEDED,
                None,
                None,
            )
            entry.save(update_fields=["pole_consent", "pole_consent_by", "pole_consent_at"])
        elif pole.owner_id not in parties and entry.pole_consent == PoleConsent.NOT_NEEDED:
            entry.pole_consent = PoleConsent.PENDING
            entry.save(update_fields=["pole_consent"])
            tasks.send_pole_consent_request_email.delay_on_commit(entry.pk)


@transaction.atomic
def application_add_site(
    *,
    application: HostingApplication,
    actor,
    lat,
    lon,
    address: str,
    host_kind: str,
    cameras_planned: int = 1,
    pole=None,
    viewing_direction: int | None = None,
    notes: str = "",
) -> ApplicationSite:
    """Pin a candidate site; on another partner's pole, that owner is asked to consent."""
    _require_applicant_member(actor, application)
    locked = _lock_draft(application, _("Sites can be added"))
    if isinstance(cameras_planned, bool) or not isinstance(cameras_planned, int):
        raise ServiceError(
            _("The number of cameras must be a whole number."), field="cameras_planned"
        )
    if cameras_planned < 1:
        raise ServiceError(_("Plan at least one camera for the site."), field="cameras_planned")
    site = site_services.site_propose(
        host_partner=locked.applicant,
        actor=actor,
        lat=lat,
        lon=lon,
        address=address,
        host_kind=host_kind,
        pole=pole,
        viewing_direction=viewing_direction,
        notes=notes,
    )
    needs_consent = site.pole is not None and site.pole.owner_id not in _party_ids(locked)
    entry = ApplicationSite.objects.create(
        application=locked,
        site=site,
        cameras_planned=cameras_planned,
        pole_consent=PoleConsent.PENDING if needs_consent else PoleConsent.NOT_NEEDED,
    )
    if locked.kota_id is None:
        kota_id = _kota_id_of(
            Area.objects.select_related("parent__parent").get(pk=site.kelurahan_id)
        )
        HostingApplication.objects.filter(pk=locked.pk).update(kota_id=kota_id)
        application.kota_id = kota_id
    if needs_consent:
        tasks.send_pole_consent_request_email.delay_on_commit(entry.pk)
    return entry


def _reject_sites(application: HostingApplication, actor, reason: str, *, by_officer: bool) -> None:
    # An officer's rejection is site_reject; the applicant taking its own proposals back is
    # site_withdraw (host partner members may do that, not decide on sites).
    service = site_services.site_reject if by_officer else site_services.site_withdraw
    sites = Site.objects.filter(
        application_entry__application=application, status__in=_UNDECIDED_SITE_STATUSES
    ).order_by("pk")
    for site in sites:
        service(site=site, actor=actor, reason=reason)


@transaction.atomic
def application_remove_site(*, application: HostingApplication, actor, site: Site) -> None:
    """Drop a candidate site from a draft; the proposed site itself is rejected, not deleted."""
    _require_applicant_member(actor, application)
    locked = _lock_draft(application, _("Sites can be removed"))
    entry = ApplicationSite.objects.filter(application=locked, site=site).first()
    if entry is None:
        raise ServiceError(_("This site is not part of the application."), field="site")
    entry.delete()
    if site.status in _UNDECIDED_SITE_STATUSES:
        site_services.site_withdraw(site=site, actor=actor, reason="removed from application")
    first = (
        ApplicationSite.objects.filter(application=locked)
        .select_related("site__kelurahan__parent")
        .order_by("pk")
        .first()
    )
    kota_id = _kota_id_of(first.site.kelurahan) if first else None
    HostingApplication.objects.filter(pk=locked.pk).update(kota_id=kota_id)
    application.kota_id = kota_id


@transaction.atomic
def application_add_attachment(
    *, application: HostingApplication, actor, upload: UploadedFile
) -> ApplicationAttachment:
    """Attach a PDF (drawings, letters), checked exactly like a partner's documents."""
    _require_applicant_member(actor, application)
    if application.status not in _ATTACHABLE:
        raise Conflict(
            _("Documents can no longer be attached: the application is %(status)s.")
            % {"status": _status_label(ApplicationStatus, application.status)},
            code="invalid_transition",
        )
    attachment = ApplicationAttachment(application=application, uploaded_by=actor)
    return store_pdf(record=attachment, upload=upload)


# --- Pole owner's consent -------------------------------------------------------------------


def _pole_consent(
    *, entry: ApplicationSite, actor, to: str, decision: str, comment: str
) -> ApplicationSite:
    pole = entry.site.pole
    if pole is None or not _is_member(actor, pole.owner):
        raise PermissionDenied(_("Only the pole owner's owners and staff can answer this."))
    with transaction.atomic():
        application = HostingApplication.objects.select_for_update().get(pk=entry.application_id)
        if application.status not in _POLE_CONSENT_OPEN:
            raise Conflict(
                _("The application is %(status)s: it no longer needs an answer.")
                % {"status": _status_label(ApplicationStatus, application.status)},
                code="invalid_transition",
            )
        now = timezone.now()
        updated = ApplicationSite.objects.filter(
            pk=entry.pk, pole_consent=PoleConsent.PENDING
        ).update(pole_consent=to, pole_consent_by=actor, pole_consent_at=now)
        if not updated:
            raise Conflict(_("This request has already been answered."), code="invalid_transition")
        _record(
            application,
            actor=actor,
            old=application.status,
            new=application.status,
            decision=decision,
            reason=f"{entry.site.address}: {comment.strip()}" if comment.strip() else "",
            when=now,
        )
    entry.pole_consent, entry.pole_consent_by, entry.pole_consent_at = to, actor, now
    return entry


def pole_consent_accept(*, entry: ApplicationSite, actor, comment: str = "") -> ApplicationSite:
    """The pole's owner agrees to a camera on its pole."""
    return _pole_consent(
        entry=entry,
        actor=actor,
        to=PoleConsent.ACCEPTED,
        decision=Decision.POLE_ACCEPTED,
        comment=comment or "",
    )


def pole_consent_decline(*, entry: ApplicationSite, actor, comment: str) -> ApplicationSite:
    """The pole's owner refuses; review cannot finish until the applicant moves the site."""
    if not (comment or "").strip():
        raise ServiceError(_("Tell the applicant why you decline."), field="comment")
    return _pole_consent(
        entry=entry,
        actor=actor,
        to=PoleConsent.DECLINED,
        decision=Decision.POLE_DECLINED,
        comment=comment,
    )


# --- Applications: the review workflow ------------------------------------------------------


def _step(
    *,
    application: HostingApplication,
    actor,
    to: str,
    decision: str,
    reason: str = "",
    check: Callable[[HostingApplication], None] | None = None,
    extra: Mapping[str, object] | None = None,
    after: Callable[[HostingApplication], None] | None = None,
) -> HostingApplication:
    """One guarded review step, recorded as an ApplicationDecision (emailed where it should be).

    If `after` (e.g. reserving pole slots) fails, the step and its record roll back with it.
    """

    def recorded(locked: HostingApplication, row: ApplicationDecision) -> None:
        _email_decision(row)
        if after:
            after(locked)

    return transition(
        instance=application,
        to=to,
        allowed=APPLICATION_TRANSITIONS,
        log_model=ApplicationDecision,
        log_fields={"application": application, "decision": decision},
        actor=actor,
        reason=reason,
        extra={"status_changed_at": timezone.now(), **(extra or {})},
        check=check,
        after=recorded,
        conflict_message=_(
            "The application is now “%(old)s”, so it cannot move to “%(new)s”. "
            "Someone may have decided on it first: reload it to see."
        ),
    )


def _comment(*, actor, comment: str, template: str | None, required: bool) -> str:
    """The officer's comment, opened by a response template's text in the actor's language."""
    comment = (comment or "").strip()
    if template:
        found = ResponseTemplate.objects.filter(code=template).first()
        if found is None:
            raise ServiceError(_("Unknown response template."), field="template")
        body = found.body_id if (actor.language or "id").startswith("id") else found.body_en
        comment = f"{body}\n\n{comment}".strip() if comment else body
    if required and not comment:
        raise ServiceError(
            _("Give a comment (or choose a response template) for the applicant."),
            field="comment",
        )
    return comment


def _require_reviewer(actor, application: HostingApplication) -> None:
    """Technical reviewers and approvers of the Dinas, or the Sudin officer of the kota."""
    roles = role_names(actor)
    if actor.is_superuser or roles & {Role.OFFICER_REVIEWER, Role.OFFICER_APPROVER}:
        return
    if is_sudin_officer(actor) and application.kota_id == actor.kota_id:
        return
    raise PermissionDenied(_("Only a Kominfotik reviewer for this kota can review it."))


def _require_decider(actor, application: HostingApplication) -> None:
    """Any officer in scope may return or reject (legal reviewers included)."""
    if is_city_officer(actor):
        return
    if is_sudin_officer(actor) and application.kota_id == actor.kota_id:
        return
    raise PermissionDenied(_("Only a Kominfotik officer for this kota can decide on it."))


def _not_submitter(actor) -> Callable[[HostingApplication], None]:
    def check(locked: HostingApplication) -> None:
        if locked.submitted_by_id == actor.pk:
            raise PermissionDenied(
                _("Four-eyes rule: you submitted this application, so you cannot review it.")
            )

    return check


@transaction.atomic
def application_submit(*, application: HostingApplication, actor) -> HostingApplication:
    """The applicant sends a draft with at least one candidate site to Kominfotik."""
    _require_applicant_member(actor, application)

    def check(locked: HostingApplication) -> None:
        _require_verified(locked.applicant, "applicant")
        if not locked.candidate_sites.exists():
            raise ServiceError(_("Add at least one candidate site before submitting."))

    return _step(
        application=application,
        actor=actor,
        to=ApplicationStatus.SUBMITTED,
        decision=Decision.SUBMITTED,
        check=check,
        extra={"submitted_by": actor, "submitted_at": timezone.now()},
    )


def application_start_review(
    *, application: HostingApplication, actor, comment: str = ""
) -> HostingApplication:
    _require_reviewer(actor, application)
    return _step(
        application=application,
        actor=actor,
        to=ApplicationStatus.TECHNICAL_REVIEW,
        decision=Decision.REVIEW_STARTED,
        reason=(comment or "").strip(),
        check=_not_submitter(actor),
    )


def application_finish_technical_review(
    *, application: HostingApplication, actor, comment: str = ""
) -> HostingApplication:
    """Technical review passes to legal review once every pole owner has accepted."""
    _require_reviewer(actor, application)

    def check(locked: HostingApplication) -> None:
        _not_submitter(actor)(locked)
        if locked.candidate_sites.filter(
            pole_consent__in=[PoleConsent.PENDING, PoleConsent.DECLINED]
        ).exists():
            raise ServiceError(
                _("The pole owner must accept before review can finish."),
                code="pole_consent_missing",
            )

    return _step(
        application=application,
        actor=actor,
        to=ApplicationStatus.LEGAL_REVIEW,
        decision=Decision.TECHNICAL_REVIEW_PASSED,
        reason=(comment or "").strip(),
        check=check,
        extra={"technical_reviewer": actor},
    )


def application_approve(
    *, application: HostingApplication, actor, comment: str = ""
) -> HostingApplication:
    """Four-eyes approval; every candidate site is approved and its pole slot reserved.

    If any site cannot be approved (e.g. its pole has no free slot), the whole approval rolls
    back and the error is the one the user sees.
    """
    _require_approver(actor)

    def check(locked: HostingApplication) -> None:
        if actor.pk in {locked.submitted_by_id, locked.technical_reviewer_id}:
            raise PermissionDenied(
                _(
                    "Four-eyes rule: the approver must be neither the submitter nor the "
                    "technical reviewer of this application."
                )
            )

    def approve_sites(locked: HostingApplication) -> None:
        sites = (
            Site.objects.filter(
                application_entry__application=locked, status__in=_UNDECIDED_SITE_STATUSES
            )
            .select_related("pole")
            .order_by("pk")
        )
        for site in sites:
            site_services.site_approve(
                site=site, actor=actor, reason=f"application #{locked.pk} approved"
            )

    return _step(
        application=application,
        actor=actor,
        to=ApplicationStatus.APPROVED,
        decision=Decision.APPROVED,
        reason=(comment or "").strip(),
        check=check,
        after=approve_sites,
    )


def application_reject(
    *, application: HostingApplication, actor, comment: str = "", template: str | None = None
) -> HostingApplication:
    """Reject from any review step, with a comment; the candidate sites are rejected too."""
    _require_decider(actor, application)
    reason = _comment(actor=actor, comment=comment, template=template, required=True)
    return _step(
        application=application,
        actor=actor,
        to=ApplicationStatus.REJECTED,
        decision=Decision.REJECTED,
        reason=reason,
        check=_not_submitter(actor),
        after=lambda locked: _reject_sites(
            locked, actor, f"application rejected: {reason}", by_officer=True
        ),
    )


def application_return(
    *, application: HostingApplication, actor, comment: str = "", template: str | None = None
) -> HostingApplication:
    """Send an application under review back to draft with comments; its review restarts."""
    _require_decider(actor, application)
    reason = _comment(actor=actor, comment=comment, template=template, required=True)

    return _step(
        application=application,
        actor=actor,
        to=ApplicationStatus.DRAFT,
        decision=Decision.RETURNED,
        reason=reason,
        check=_not_submitter(actor),
        extra={"technical_reviewer": None},
    )


def application_withdraw(
    *, application: HostingApplication, actor, comment: str = ""
) -> HostingApplication:
    """The applicant withdraws before review starts; its proposed sites are rejected."""
    _require_applicant_member(actor, application)
    return _step(
        application=application,
        actor=actor,
        to=ApplicationStatus.WITHDRAWN,
        decision=Decision.WITHDRAWN,
        reason=(comment or "").strip(),
        after=lambda locked: _reject_sites(
            locked, actor, "withdrawn by applicant", by_officer=False
        ),
    )
