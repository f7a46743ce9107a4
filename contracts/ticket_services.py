"""Every write to maintenance tickets: opening, the lifecycle steps, and the scheduled work that
turns health changes, missed clocks and inspection schedules into tickets and breaches.

Who may act on a ticket: the responsible partner's members (the "partner side"), and officers
(city-wide, or a Sudin officer in the ticket's kota). Operators (NOC) may open tickets and add
notes only. The health checker, the clock checker and the inspection schedule act as the
system (no actor).

Each status change goes through portal.audit.transition, which locks the row: of two people
acting on one ticket at the same moment exactly one wins and the other gets a Conflict (409).
Every step leaves one append-only TicketEvent.

Clocks: a ticket's acknowledge clock runs from opened_at to acknowledge_due_at and stops at
acknowledged_at; its repair clock runs to repair_due_at and stops at resolved_at. Both come from
the contract's obligations when the ticket opens (no contract, no clocks). A reopened ticket was
not repaired after all: its repair clock runs again against the original deadline.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts import tasks
from contracts.agreement_selectors import (
    contract_in_force_for_site,
    obligation_for,
    responsible_party,
)
from contracts.models import (
    ACTIVE_TICKET_STATUSES,
    TICKET_TRANSITIONS,
    Breach,
    BreachKind,
    Contract,
    ContractSite,
    ContractStatus,
    MaintenanceTicket,
    Obligation,
    ObligationKind,
    OutboxCursor,
    TicketEvent,
    TicketEvidence,
    TicketSource,
    TicketStatus,
)
from partners.models import Membership, Partner
from portal.audit import transition
from portal.errors import Conflict, PermissionDenied, ServiceError
from portal.images import clean_photo
from portal.roles import is_city_officer, is_operator, is_sudin_officer
from sites.models import (
    Camera,
    CameraHealth,
    CameraStatusChange,
    HealthStatus,
    Outage,
    Site,
    SiteStatus,
    UpstreamIncident,
)

logger = logging.getLogger(__name__)

HEALTH_CURSOR = "tickets"
# Sites that exist on the ground (or are being built): a ticket can be about them.
TICKETABLE_SITE_STATUSES = {
    SiteStatus.APPROVED,
    SiteStatus.INSTALLING,
    SiteStatus.ACTIVE,
    SiteStatus.SUSPENDED,
}
NOTE_MAX_LENGTH = 2000
# What the next health check must see for a resolved camera ticket to be verified or reopened.
_CAMERA_WORKS = {HealthStatus.UP, HealthStatus.DEGRADED}
# (clock name, due field, field that stops it, reminder stamp, escalation stamp)
CLOCKS = (
    (
        "acknowledge",
        "acknowledge_due_at",
        "acknowledged_at",
        "acknowledge_reminded_at",
        "acknowledge_escalated_at",
    ),
    ("repair", "repair_due_at", "resolved_at", "repair_reminded_at", "repair_escalated_at"),
)


# --- Who may act ------------------------------------------------------------------------------


def ticket_kota_id(ticket: MaintenanceTicket) -> int | None:
    """The kota (Area id) of the ticket's site, from loaded relations when they are there."""
    site = ticket.site
    kelurahan = site.kelurahan if Site.kelurahan.is_cached(site) else None
    if kelurahan is not None and type(kelurahan).parent.is_cached(kelurahan):
        return kelurahan.parent.parent_id
    return (
        Site.objects.filter(pk=ticket.site_id)
        .values_list("kelurahan__parent__parent_id", flat=True)
        .first()
    )


def is_ticket_officer(user, ticket: MaintenanceTicket) -> bool:
    """A city officer, or a Sudin officer of the ticket's kota."""
    if is_city_officer(user):
        return True
    return is_sudin_officer(user) and user.kota_id == ticket_kota_id(ticket)


def is_partner_side(user, ticket: MaintenanceTicket) -> bool:
    """A member (any role) of the partner the ticket is routed to."""
    return (
        user.is_authenticated
        and Membership.objects.filter(user=user, partner_id=ticket.responsible_id).exists()
    )


def _require_worker(actor, ticket: MaintenanceTicket) -> None:
    if not (is_partner_side(actor, ticket) or is_ticket_officer(actor, ticket)):
        raise PermissionDenied(
            _("Only the responsible partner's members or an officer can work on this ticket.")
        )


def _require_officer(actor, ticket: MaintenanceTicket) -> None:
    if not is_ticket_officer(actor, ticket):
        raise PermissionDenied(_("Only a Kominfotik officer for this area can do this."))


def _text(value: str, *, field: str, required: bool, message: str = "") -> str:
    text = (value or "").strip()
    if required and not text:
        raise ServiceError(message or _("This field is required."), field=field)
    if len(text) > NOTE_MAX_LENGTH:
        raise ServiceError(_("At most %(n)s characters.") % {"n": NOTE_MAX_LENGTH}, field=field)
    return text


# --- Routing and opening ----------------------------------------------------------------------


@dataclass(frozen=True)
class Routing:
    """Where a new ticket goes and which clocks it gets."""

    contract: Contract | None
    responsible: Partner
    acknowledge_due_at: datetime | None
    repair_due_at: datetime | None


def _due(contract: Contract | None, kind: str, site_id: int, start: datetime) -> datetime | None:
    if contract is None:
        return None
    obligation = obligation_for(contract=contract, kind=kind, site_id=site_id)
    if obligation is None or obligation.value is None:
        return None
    return start + timedelta(hours=float(obligation.value))


def ticket_routing(*, site: Site, opened_at: datetime) -> Routing:
    """The party responsible under the contract in force at `site` (fallback: the site's
    host) and the clocks its acknowledge and repair obligations set, counted from opened_at."""
    contract = contract_in_force_for_site(site_id=site.pk)
    return Routing(
        contract=contract,
        responsible=responsible_party(contract=contract, site=site),
        acknowledge_due_at=_due(contract, ObligationKind.ACKNOWLEDGE, site.pk, opened_at),
        repair_due_at=_due(contract, ObligationKind.REPAIR, site.pk, opened_at),
    )


def _create(*, opened_at: datetime, actor=None, reason: str = "", **fields) -> MaintenanceTicket:
    """Insert a ticket with its reference and first event; email the responsible partner.

    The reference comes from the primary key (TKT-<year>-<pk>), so two tickets opened at the
    same moment never share one: the row is inserted under a throwaway unique value first.
    Must run inside a transaction (callers are atomic).
    """
    ticket = MaintenanceTicket.objects.create(
        reference=f"TMP-{uuid.uuid4().hex[:20]}",
        opened_at=opened_at,
        status_changed_at=opened_at,
        status=TicketStatus.OPEN,
        opened_by=actor,
        **fields,
    )
    ticket.reference = f"TKT-{timezone.localtime(opened_at).year}-{ticket.pk:06d}"
    MaintenanceTicket.objects.filter(pk=ticket.pk).update(reference=ticket.reference)
    TicketEvent.objects.create(
        ticket=ticket,
        actor=actor,
        old_status="",
        new_status=TicketStatus.OPEN,
        reason=reason,
        created_at=opened_at,
    )
    tasks.send_ticket_opened_email.delay_on_commit(ticket.pk)
    return ticket


def _opener_source(actor, site: Site, camera: Camera | None, resident_report: str) -> str:
    if is_city_officer(actor) or is_operator(actor):
        return TicketSource.RESIDENT if resident_report else TicketSource.OFFICER
    if is_sudin_officer(actor):
        kota_id = (
            Site.objects.filter(pk=site.pk)
            .values_list("kelurahan__parent__parent_id", flat=True)
            .first()
        )
        if kota_id != actor.kota_id:
            raise PermissionDenied(
                _("This site is outside your kota: a Sudin officer opens tickets only there.")
            )
        return TicketSource.RESIDENT if resident_report else TicketSource.OFFICER
    partner_ids = {site.host_partner_id} | ({camera.owner_id} if camera else set())
    if (
        actor.is_authenticated
        and Membership.objects.filter(user=actor, partner_id__in=partner_ids).exists()
    ):
        return TicketSource.PARTNER
    raise PermissionDenied(
        _("Only officers, operators and the site's host or camera owner can open a ticket here.")
    )


@transaction.atomic
def ticket_open(
    *,
    actor,
    site: Site,
    title: str,
    description: str = "",
    camera: Camera | None = None,
    resident_report: str = "",
) -> MaintenanceTicket:
    """Open a ticket by hand on a site (and one of its cameras), routed and clocked by the
    contract in force there. Officers and operators open "officer" tickets ("resident" with a
    resident's report reference); the site's host and the camera's owner open "partner" ones."""
    resident_report = (resident_report or "").strip()
    source = _opener_source(actor, site, camera, resident_report)
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("Give the ticket a title."), field="title")
    if len(title) > 200:
        raise ServiceError(_("At most %(n)s characters.") % {"n": 200}, field="title")
    if len(resident_report) > 32:
        raise ServiceError(_("At most %(n)s characters.") % {"n": 32}, field="resident_report")
    description = _text(description, field="description", required=False)
    if site.status not in TICKETABLE_SITE_STATUSES:
        raise ServiceError(
            _("Tickets can only be opened on approved, installed or active sites."), field="site"
        )
    if camera is not None and camera.site_id != site.pk:
        raise ServiceError(_("This camera is not on the chosen site."), field="camera")
    now = timezone.now()
    routing = ticket_routing(site=site, opened_at=now)
    return _create(
        opened_at=now,
        actor=actor,
        source=source,
        title=title,
        description=description,
        site=site,
        camera=camera,
        resident_report=resident_report,
        contract=routing.contract,
        responsible=routing.responsible,
        acknowledge_due_at=routing.acknowledge_due_at,
        repair_due_at=routing.repair_due_at,
    )


# --- Lifecycle steps --------------------------------------------------------------------------


def _step(
    *,
    ticket: MaintenanceTicket,
    actor,
    to: str,
    reason: str = "",
    extra: dict | None = None,
    check=None,
    after=None,
) -> MaintenanceTicket:
    transition(
        instance=ticket,
        to=to,
        allowed=TICKET_TRANSITIONS,
        log_model=TicketEvent,
        log_fields={"ticket": ticket},
        actor=actor,
        reason=reason,
        extra={"status_changed_at": timezone.now(), **(extra or {})},
        check=check,
        after=after,
        conflict_message=_(
            "The ticket is now “%(old)s”, so it cannot move to “%(new)s”. "
            "Someone may have acted on it first: reload it to see."
        ),
    )
    ticket.refresh_from_db()
    return ticket


def _stamp_acknowledged(at: datetime):
    """Starting or resolving work acknowledges the ticket too (its acknowledge clock stops)."""

    def after(locked: MaintenanceTicket, log: TicketEvent) -> None:
        if locked.acknowledged_at is None:
            MaintenanceTicket.objects.filter(pk=locked.pk).update(acknowledged_at=at)

    return after


def _store_photo(ticket: MaintenanceTicket, actor, photo, note: str) -> TicketEvidence:
    content, extension, digest = photo
    evidence = TicketEvidence(
        ticket=ticket,
        extension=extension,
        note=note[:300],
        size=content.size,
        sha256=digest,
        uploaded_by=actor,
    )
    evidence.file.save(content.name, content, save=False)
    try:
        evidence.save()
    except Exception:
        # The row was not written: do not leave an orphan file behind.
        evidence.file.delete(save=False)
        raise
    return evidence


def _clean_photo(photo: UploadedFile | None):
    if photo is None:
        return None
    return clean_photo(photo, max_bytes=settings.TICKET_PHOTO_MAX_BYTES)


def ticket_acknowledge(*, ticket: MaintenanceTicket, actor, note: str = "") -> MaintenanceTicket:
    """The responsible partner (or an officer) has seen the ticket: the acknowledge clock stops."""
    _require_worker(actor, ticket)
    note = _text(note, field="note", required=False)
    return _step(
        ticket=ticket,
        actor=actor,
        to=TicketStatus.ACKNOWLEDGED,
        reason=note,
        extra={"acknowledged_at": timezone.now()},
    )


def ticket_start_work(*, ticket: MaintenanceTicket, actor, note: str = "") -> MaintenanceTicket:
    """Work has started (also on a reopened ticket)."""
    _require_worker(actor, ticket)
    note = _text(note, field="note", required=False)
    return _step(
        ticket=ticket,
        actor=actor,
        to=TicketStatus.IN_PROGRESS,
        reason=note,
        after=_stamp_acknowledged(timezone.now()),
    )


def ticket_resolve(
    *, ticket: MaintenanceTicket, actor, note: str, photo: UploadedFile | None = None
) -> MaintenanceTicket:
    """The partner says it is fixed, with a note (and a photo): the repair clock stops. A camera
    ticket is then verified, or reopened, by the next health check."""
    _require_worker(actor, ticket)
    note = _text(
        note, field="note", required=True, message=_("Say what was done to resolve the ticket.")
    )
    cleaned = _clean_photo(photo)
    now = timezone.now()
    acknowledge = _stamp_acknowledged(now)

    def after(locked: MaintenanceTicket, log: TicketEvent) -> None:
        acknowledge(locked, log)
        if cleaned is not None:
            _store_photo(locked, actor, cleaned, note)

    return _step(
        ticket=ticket,
        actor=actor,
        to=TicketStatus.RESOLVED,
        reason=note,
        extra={"resolved_at": now},
        after=after,
    )


@transaction.atomic
def ticket_add_note(
    *, ticket: MaintenanceTicket, actor, note: str, photo: UploadedFile | None = None
) -> TicketEvent:
    """A note (and a photo) on the ticket's history, without changing its status. Operators may
    add notes too."""
    if not (
        is_partner_side(actor, ticket) or is_ticket_officer(actor, ticket) or is_operator(actor)
    ):
        raise PermissionDenied(_("You cannot add notes to this ticket."))
    note = _text(note, field="note", required=True, message=_("Write a note."))
    cleaned = _clean_photo(photo)
    # Lock the ticket so the note records the status it really had.
    locked = MaintenanceTicket.objects.select_for_update().get(pk=ticket.pk)
    event = TicketEvent.objects.create(
        ticket=locked,
        actor=actor,
        old_status=locked.status,
        new_status=locked.status,
        reason=note,
    )
    if cleaned is not None:
        _store_photo(locked, actor, cleaned, note)
    return event


def ticket_verify(*, ticket: MaintenanceTicket, actor, note: str = "") -> MaintenanceTicket:
    """An officer confirms a resolved ticket without a camera (camera tickets are verified by the
    next health check)."""
    _require_officer(actor, ticket)
    if ticket.camera_id is not None:
        raise ServiceError(
            _("A camera ticket is verified by the next health check, not by hand."),
            code="verified_by_health_check",
        )
    note = _text(note, field="note", required=False)
    return _step(
        ticket=ticket,
        actor=actor,
        to=TicketStatus.VERIFIED,
        reason=note,
        extra={"verified_at": timezone.now()},
    )


def _reopen(ticket: MaintenanceTicket, *, actor, reason: str) -> MaintenanceTicket:
    def after(locked: MaintenanceTicket, log: TicketEvent) -> None:
        MaintenanceTicket.objects.filter(pk=locked.pk).update(reopen_count=locked.reopen_count + 1)
        tasks.send_ticket_opened_email.delay_on_commit(locked.pk)

    return _step(
        ticket=ticket,
        actor=actor,
        to=TicketStatus.REOPENED,
        reason=reason,
        extra={"resolved_at": None, "verified_at": None},
        after=after,
    )


def ticket_reopen(*, ticket: MaintenanceTicket, actor, reason: str) -> MaintenanceTicket:
    """An officer finds a resolved ticket not fixed: it goes back to the partner, whose repair
    clock runs again (against the original deadline)."""
    _require_officer(actor, ticket)
    reason = _text(
        reason, field="reason", required=True, message=_("Say why the ticket is reopened.")
    )
    return _reopen(ticket, actor=actor, reason=reason)


def ticket_cancel(*, ticket: MaintenanceTicket, actor, reason: str) -> MaintenanceTicket:
    """An officer withdraws a ticket opened in error; its clocks stop without a breach."""
    _require_officer(actor, ticket)
    reason = _text(
        reason, field="reason", required=True, message=_("Say why the ticket is cancelled.")
    )
    return _step(ticket=ticket, actor=actor, to=TicketStatus.CANCELLED, reason=reason)


# --- System steps (health checks, clocks); a concurrent human step simply wins ---------------


def _system_step(ticket: MaintenanceTicket, *, to: str, reason: str, extra: dict) -> bool:
    try:
        transition(
            instance=ticket,
            to=to,
            allowed=TICKET_TRANSITIONS,
            log_model=TicketEvent,
            log_fields={"ticket": ticket},
            actor=None,
            reason=reason,
            extra={"status_changed_at": timezone.now(), **extra},
        )
    except Conflict:
        return False
    return True


def _system_text(message) -> str:
    """System notes are recorded once, in the portal's default language (pass a lazy string)."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(message)


def _system_resolve_and_verify(ticket: MaintenanceTicket, *, at: datetime, why: str) -> bool:
    resolved = _system_step(ticket, to=TicketStatus.RESOLVED, reason=why, extra={"resolved_at": at})
    if resolved:
        _system_verify(ticket, at=at)
    return resolved


def _system_verify(ticket: MaintenanceTicket, *, at: datetime) -> bool:
    return _system_step(
        ticket,
        to=TicketStatus.VERIFIED,
        reason=_system_text(gettext_lazy("The health check sees the camera working.")),
        extra={"verified_at": at},
    )


def _system_reopen(ticket: MaintenanceTicket, *, why: str) -> bool:
    try:
        _reopen(ticket, actor=None, reason=why)
    except Conflict:
        return False
    return True


# --- Health outbox → tickets ------------------------------------------------------------------


def _lock_cursor(name: str) -> OutboxCursor | None:
    """The cursor row, locked for this transaction; None while another worker holds it."""
    return OutboxCursor.objects.select_for_update(skip_locked=True).filter(name=name).first()


def _open_in_savepoint(**fields) -> MaintenanceTicket | None:
    """Open a system ticket; None if a unique constraint says another worker already did."""
    try:
        with transaction.atomic():
            return _create(**fields)
    except IntegrityError:
        return None


def _camera_down(change: CameraStatusChange) -> int:
    """A camera went down: open a ticket for its outage, unless the outage (or this change)
    already has one or a ticket on the camera is still being worked on; a resolution that the
    camera going down again proves wrong is reopened instead of opening a second ticket."""
    camera = change.camera
    outage = (
        Outage.objects.filter(camera=camera, started_at__lte=change.created_at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=change.created_at))
        .order_by("-started_at", "-id")
        .first()
    )
    if outage is not None and MaintenanceTicket.objects.filter(outage=outage).exists():
        return 0
    if MaintenanceTicket.objects.filter(status_change=change).exists():
        return 0
    camera_tickets = MaintenanceTicket.objects.filter(camera=camera)
    # Someone is already on it (or a resolution has just proved wrong): no second ticket.
    if camera_tickets.filter(status__in=ACTIVE_TICKET_STATUSES).exists():
        return 0
    resolved = camera_tickets.filter(status=TicketStatus.RESOLVED).order_by("-opened_at").first()
    if resolved is not None:
        # Down after the resolution: it did not hold. Down before it (a change read late): the
        # resolution answers it, and the next health check settles the ticket either way.
        if resolved.resolved_at <= change.created_at:
            _system_reopen(
                resolved,
                why=_system_text(gettext_lazy("The health check sees the camera down again.")),
            )
        return 0
    site = camera.site
    routing = ticket_routing(site=site, opened_at=change.created_at)
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Camera down: %(camera)s at %(site)s") % {"camera": camera, "site": site}
    ticket = _open_in_savepoint(
        opened_at=change.created_at,
        source=TicketSource.HEALTH,
        title=title[:200],
        description=change.reason,
        site=site,
        camera=camera,
        contract=routing.contract,
        responsible=routing.responsible,
        status_change=change,
        outage=outage,
        acknowledge_due_at=routing.acknowledge_due_at,
        repair_due_at=routing.repair_due_at,
    )
    return int(ticket is not None)


def _camera_works(change: CameraStatusChange) -> None:
    """The camera answers again: the health ticket still open is settled by the system, and a
    resolution the partner made before this check is confirmed."""
    working = MaintenanceTicket.objects.filter(
        camera_id=change.camera_id,
        source=TicketSource.HEALTH,
        status__in=ACTIVE_TICKET_STATUSES,
    )
    for ticket in working:
        _system_resolve_and_verify(
            ticket,
            at=change.created_at,
            why=_system_text(gettext_lazy("The camera came back up (health check).")),
        )
    resolved = MaintenanceTicket.objects.filter(
        camera_id=change.camera_id,
        status=TicketStatus.RESOLVED,
        resolved_at__lte=change.created_at,
    )
    for ticket in resolved:
        _system_verify(ticket, at=change.created_at)


def _upstream_ticket(incident: UpstreamIncident) -> int:
    """One ticket per pole incident, to the pole's owner, on the first site on that pole."""
    pole = incident.pole
    site = (
        Site.objects.filter(pole=pole, status__in=TICKETABLE_SITE_STATUSES)
        .select_related("host_partner")
        .order_by("id")
        .first()
    )
    if site is None:
        return 0
    contract = contract_in_force_for_site(site_id=site.pk)
    # The pole owner answers under the site's contract only if it is a party to it.
    if contract is not None and not contract.parties.filter(partner_id=pole.owner_id).exists():
        contract = None
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Upstream down at pole %(pole)s (%(n)s cameras)") % {
            "pole": pole.code,
            "n": incident.cameras_affected,
        }
    ticket = _open_in_savepoint(
        opened_at=incident.started_at,
        source=TicketSource.UPSTREAM,
        title=title[:200],
        site=site,
        contract=contract,
        responsible=pole.owner,
        upstream_incident=incident,
        acknowledge_due_at=_due(contract, ObligationKind.ACKNOWLEDGE, site.pk, incident.started_at),
        repair_due_at=_due(contract, ObligationKind.REPAIR, site.pk, incident.started_at),
    )
    return int(ticket is not None)


def _upstream_down(changes: list[CameraStatusChange]) -> int:
    opened = 0
    pole_times: dict[int, datetime] = {}
    for change in changes:
        pole_id = change.camera.site.pole_id
        if pole_id is not None:
            pole_times[pole_id] = max(pole_times.get(pole_id, change.created_at), change.created_at)
    for pole_id, seen_at in pole_times.items():
        incidents = (
            UpstreamIncident.objects.filter(pole_id=pole_id, started_at__lte=seen_at)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=seen_at))
            .filter(ticket__isnull=True)
            .select_related("pole__owner")
            .order_by("started_at", "id")
        )
        for incident in incidents:
            opened += _upstream_ticket(incident)
    return opened


def _close_upstream_tickets() -> None:
    """An upstream incident that ended settles its ticket still being worked on."""
    ended = MaintenanceTicket.objects.filter(
        source=TicketSource.UPSTREAM,
        status__in=ACTIVE_TICKET_STATUSES,
        upstream_incident__ended_at__isnull=False,
    ).select_related("upstream_incident")
    for ticket in ended:
        _system_resolve_and_verify(
            ticket,
            at=ticket.upstream_incident.ended_at,
            why=_system_text(
                gettext_lazy("The upstream incident ended: the cameras answer again.")
            ),
        )


def tickets_from_health_changes(*, limit: int = 5000) -> int:
    """Read the health checker's status changes after the cursor, in order, and open, reopen,
    resolve and verify tickets accordingly. Returns the number of tickets opened.

    The cursor row is locked (SKIP LOCKED) for the whole batch, so two workers never process
    the same range: the second one returns 0 at once. Replaying changes (a cursor reset) opens
    nothing twice: a ticket is looked up by its outage and status change first, and the
    one-to-one constraints on those are the backstop.
    """
    OutboxCursor.objects.get_or_create(name=HEALTH_CURSOR)
    opened = 0
    with transaction.atomic():
        cursor = _lock_cursor(HEALTH_CURSOR)
        if cursor is None:
            return 0
        changes = list(
            CameraStatusChange.objects.filter(pk__gt=cursor.last_id)
            .select_related("camera__site__host_partner")
            .order_by("pk")[:limit]
        )
        upstream: list[CameraStatusChange] = []
        for change in changes:
            if change.new_status == HealthStatus.DOWN:
                opened += _camera_down(change)
            elif change.new_status in _CAMERA_WORKS:
                _camera_works(change)
            elif change.new_status == HealthStatus.UPSTREAM_DOWN:
                upstream.append(change)
            # maintenance and unknown: planned work or no information, never a ticket.
        opened += _upstream_down(upstream)
        _close_upstream_tickets()
        if changes:
            OutboxCursor.objects.filter(pk=cursor.pk).update(
                last_id=changes[-1].pk, updated_at=timezone.now()
            )
    return opened


# --- Clocks: reminders, breaches, escalations, verification -----------------------------------


def _claim(ticket_id: int, clock: tuple, stamp_field: str, now: datetime) -> bool:
    """Set a once-only stamp with a conditional UPDATE (only the worker that set it acts), and
    only while the clock still runs: a ticket acknowledged a moment ago gets no reminder."""
    _name, due_field, done_field, _reminded, _escalated = clock
    return bool(
        _tickets_with_running_clock(due_field, done_field)
        .filter(pk=ticket_id, **{f"{stamp_field}__isnull": True})
        .update(**{stamp_field: now})
    )


def _iso(value: datetime | None) -> str | None:
    """Evidence times in WIB, as officers read them."""
    return timezone.localtime(value).isoformat() if value else None


def _breach_kind(ticket: MaintenanceTicket, clock: str) -> str:
    if clock == "acknowledge":
        return BreachKind.ACKNOWLEDGE_LATE
    if ticket.source == TicketSource.INSPECTION:
        return BreachKind.INSPECTION_MISSED
    return BreachKind.REPAIR_LATE


def _breach_obligation(ticket: MaintenanceTicket, clock: str) -> Obligation | None:
    if clock == "repair" and ticket.obligation_id is not None:
        return ticket.obligation
    kind = ObligationKind.ACKNOWLEDGE if clock == "acknowledge" else ObligationKind.REPAIR
    return obligation_for(contract=ticket.contract, kind=kind, site_id=ticket.site_id)


def _record_breach(ticket: MaintenanceTicket, clock: str, now: datetime) -> bool:
    _name, due_field, done_field, _reminded, _escalated = next(c for c in CLOCKS if c[0] == clock)
    outage = ticket.outage
    evidence = {
        "ticket": ticket.reference,
        "clock": clock,
        "opened_at": _iso(ticket.opened_at),
        "due_at": _iso(getattr(ticket, due_field)),
        done_field: _iso(getattr(ticket, done_field)),
        "outage": (
            {
                "id": outage.pk,
                "started_at": _iso(outage.started_at),
                "ended_at": _iso(outage.ended_at),
            }
            if outage
            else None
        ),
    }
    try:
        with transaction.atomic():
            Breach.objects.create(
                contract=ticket.contract,
                obligation=_breach_obligation(ticket, clock),
                responsible=ticket.responsible,
                kind=_breach_kind(ticket, clock),
                ticket=ticket,
                camera=ticket.camera,
                due_at=getattr(ticket, due_field),
                detected_at=now,
                evidence=evidence,
            )
    except IntegrityError:  # another worker recorded it first
        return False
    return True


def _tickets_with_running_clock(due_field: str, done_field: str):
    return MaintenanceTicket.objects.filter(
        status__in=ACTIVE_TICKET_STATUSES,
        **{f"{due_field}__isnull": False, f"{done_field}__isnull": True},
    )


def _check_clock(clock: tuple, now: datetime, counts: dict) -> None:
    name, due_field, done_field, reminded_field, escalated_field = clock
    share = settings.TICKET_REMINDER_AT

    # (a) Reminders, once, when the configured share of a running clock has passed.
    for ticket_id, opened_at, due_at in (
        _tickets_with_running_clock(due_field, done_field)
        .filter(**{f"{reminded_field}__isnull": True, f"{due_field}__gt": now})
        .values_list("pk", "opened_at", due_field)
    ):
        if opened_at + (due_at - opened_at) * share <= now and _claim(
            ticket_id, clock, reminded_field, now
        ):
            tasks.send_ticket_reminder_email.delay_on_commit(ticket_id, name)
            counts["reminders"] += 1

    # (b) Missed clocks: a breach on the contract, once; late-but-done clocks count too, since
    # the check runs every few minutes and a ticket may be acknowledged between two runs.
    kinds = (
        [BreachKind.ACKNOWLEDGE_LATE]
        if name == "acknowledge"
        else [
            BreachKind.REPAIR_LATE,
            BreachKind.INSPECTION_MISSED,
        ]
    )
    missed = (
        MaintenanceTicket.objects.filter(contract__isnull=False, **{f"{due_field}__lte": now})
        .filter(
            Q(**{f"{done_field}__isnull": True}, status__in=ACTIVE_TICKET_STATUSES)
            | Q(**{f"{done_field}__gt": F(due_field)})
        )
        .exclude(Exists(Breach.objects.filter(ticket=OuterRef("pk"), kind__in=kinds)))
        .select_related("contract", "responsible", "camera", "outage", "obligation")
    )
    for ticket in missed:
        if _record_breach(ticket, name, now):
            counts["breaches"] += 1

    # Escalation to officers, once, while the clock is still not met.
    overdue = _tickets_with_running_clock(due_field, done_field).filter(
        **{f"{due_field}__lte": now, f"{escalated_field}__isnull": True}
    )
    for ticket_id in overdue.values_list("pk", flat=True):
        if _claim(ticket_id, clock, escalated_field, now):
            tasks.send_ticket_escalation_email.delay_on_commit(ticket_id, name)
            counts["escalations"] += 1


def _verify_resolved_cameras(counts: dict) -> None:
    """(c) A resolved camera ticket is settled by the first health check after the resolution."""
    checked = CameraHealth.objects.filter(
        camera_id=OuterRef("camera_id"), checked_at__gt=OuterRef("resolved_at")
    )
    resolved = MaintenanceTicket.objects.filter(
        status=TicketStatus.RESOLVED, camera__isnull=False, resolved_at__isnull=False
    ).filter(Exists(checked))
    for ticket in resolved.select_related("camera__health"):
        health = ticket.camera.health
        if health.status in _CAMERA_WORKS:
            if _system_verify(ticket, at=health.checked_at):
                counts["verified"] += 1
        elif health.status == HealthStatus.DOWN and _system_reopen(
            ticket, why=_system_text(gettext_lazy("The health check still sees the camera down."))
        ):
            counts["reopened"] += 1


def tickets_check_clocks(*, now: datetime | None = None) -> dict:
    """Send reminders, record breaches and escalate missed clocks, and settle resolved camera
    tickets from the latest health check. Safe to run twice: every step happens once."""
    now = now or timezone.now()
    counts = {"reminders": 0, "breaches": 0, "escalations": 0, "verified": 0, "reopened": 0}
    for clock in CLOCKS:
        _check_clock(clock, now, counts)
    _verify_resolved_cameras(counts)
    return counts


# --- Inspections ------------------------------------------------------------------------------


def _inspection_sites(obligation: Obligation) -> list[Site]:
    named = list(obligation.sites.all())
    if named:
        return named
    return [
        entry.site
        for entry in ContractSite.objects.filter(
            contract_id=obligation.contract_id, in_force=True
        ).select_related("site")
    ]


def inspection_tickets_generate(*, today: date | None = None) -> int:
    """Open an inspection ticket for each active contract's inspection obligation (every N
    days) and site it applies to, when the last one opened N or more days ago (or never) and
    none is still being worked on. Returns the number opened."""
    today = today or timezone.localdate()
    now = timezone.now()
    opened = 0
    obligations = (
        Obligation.objects.filter(
            kind=ObligationKind.INSPECTION,
            contract__status=ContractStatus.ACTIVE,
            value__isnull=False,
        )
        .select_related("contract", "responsible")
        .order_by("id")
    )
    for obligation in obligations:
        every = timedelta(days=int(obligation.value))
        for site in _inspection_sites(obligation):
            previous = MaintenanceTicket.objects.filter(obligation=obligation, site=site)
            if previous.filter(status__in=ACTIVE_TICKET_STATUSES).exists():
                continue
            last = previous.order_by("-opened_at").values_list("opened_at", flat=True).first()
            if last is not None and timezone.localdate(last) > today - every:
                continue
            with translation.override(settings.LANGUAGE_CODE):
                title = _("Scheduled inspection: %(site)s") % {"site": site}
            # The partial unique constraint (one working inspection per obligation and site)
            # stops a second worker running the same schedule.
            ticket = _open_in_savepoint(
                opened_at=now,
                source=TicketSource.INSPECTION,
                title=title[:200],
                site=site,
                contract=obligation.contract,
                responsible=obligation.responsible,
                obligation=obligation,
                repair_due_at=now + every,
            )
            opened += int(ticket is not None)
    return opened
