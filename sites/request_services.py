"""Every write to residents' coverage requests: submitting, verifying a contact, supports and
follows, the officers' triage, the "is it working?" loop, and the resident's privacy rights.

A resident has no account. What makes their voice count is a verified contact: each submission,
support or follow by email waits for a one-time link (or 6-digit code) sent to that address. Only
hashes of the link and code are stored, and the contact itself is encrypted and found by a keyed
hash. Status changes go through portal.audit.transition and an append-only RequestStatusChange,
which also drives the emails to the requester and followers (after commit, in their language).

Personal data (UU PDP No. 27/2022): the contact, the requester's name and the photo. No NIK is
ever asked for; a description that holds one is refused. Closed requests lose their personal data
REQUEST_PURGE_AFTER_DAYS after closure, and a resident can export or delete theirs at any time.
"""

import hashlib
import re
import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from portal import ratelimit
from portal.audit import transition
from portal.crypto import decrypt, encrypt
from portal.errors import Conflict, PermissionDenied, ServiceError
from portal.images import clean_photo
from portal.ratelimit import Limit, client_ip  # noqa: F401 - re-exported for views and Open311
from portal.roles import is_city_officer, is_sudin_officer
from sites import request_selectors, tasks
from sites.models import (
    CLOSED_REQUEST_STATUSES,
    OPEN_REQUEST_STATUSES,
    REQUEST_TRANSITIONS,
    ContactKind,
    ContactVerification,
    CoverageRequest,
    DeclineTemplate,
    RequestCategory,
    RequestFollow,
    RequestNote,
    RequestStatus,
    RequestStatusChange,
    RequestSupport,
    ResidentContact,
    Site,
    SiteStatus,
    VerificationPurpose,
)
from sites.selectors import OutsideJakarta, kelurahan_at

PRIVACY_NOTICE_VERSION = "2026-12"
MAX_VERIFICATION_ATTEMPTS = 5
DESCRIPTION_MAX = 2000
NAME_MAX = 120
CONTACT_MAX = 254
REASON_MAX = 2000
NOTE_MAX = 4000
# Never verified: not public, not counted, and nobody can act on it any more. Deleted outright.
UNVERIFIED_KEEP_DAYS = 7
# An installed camera nobody answered about for this long is taken as working, so the request
# closes and its personal data is purged on schedule instead of being kept for ever.
UNANSWERED_INSTALLED_DAYS = 60
# A NIK is 16 digits; residents are told never to give it, and one in a description is refused.
_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
_PHONE = re.compile(r"\+?[\d\s().-]{6,20}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COORDINATE_STEP = Decimal("0.000001")
_FEEDBACK_SALT = "sites.request-feedback"
# Serialises reference numbers per year (pg_advisory_xact_lock key: "REQ" and the year).
_REFERENCE_LOCK = 0x524551 * 10_000


# --- Links in emails and pages ------------------------------------------------------------------
# The resident pages own these URLs; until a name resolves, the documented path is used.


def _path(name: str, fallback: str, **kwargs) -> str:
    try:
        return reverse(f"sites:{name}", kwargs=kwargs or None)
    except NoReverseMatch:
        return fallback


def privacy_notice_path() -> str:
    return _path("request-privacy", "/requests/privacy/")


def request_page_path(reference: str) -> str:
    return _path("request-detail", f"/requests/{reference}/", reference=reference)


def verification_path(token: str) -> str:
    return _path("request-verify", f"/requests/verify/{token}/", token=token)


def feedback_path(reference: str, token: str) -> str:
    return _path(
        "request-working",
        f"/requests/{reference}/working/{token}/",
        reference=reference,
        token=token,
    )


# --- Contacts -----------------------------------------------------------------------------------


def normalise_contact(value: str) -> tuple[str, str]:
    """(kind, normalised value) of what a resident typed; only email can be verified today."""
    value = _CONTROL.sub("", value or "").strip()
    if not value:
        raise ServiceError(_("Enter your email address."), field="contact")
    if len(value) > CONTACT_MAX:
        raise ServiceError(_("This email address is too long."), field="contact")
    if "@" not in value and _PHONE.fullmatch(value):
        raise ServiceError(
            _("Verification by SMS is not available yet; use an email address."),
            field="contact",
            code="sms_unavailable",
        )
    try:
        validate_email(value)
    except ValidationError:
        raise ServiceError(_("Enter a valid email address."), field="contact") from None
    # Case-insensitive in practice everywhere; one resident, one identity.
    return ContactKind.EMAIL, value.lower()


def contact_hash(value: str) -> str:
    """The keyed hash that finds a contact without decrypting (HMAC with SECRET_KEY)."""
    return salted_hmac("sites.resident-contact", value, algorithm="sha256").hexdigest()


def contact_value(contact: ResidentContact) -> str:
    """The contact's email address (decrypted), for sending to it and for the resident's export."""
    return decrypt(contact.value_encrypted)


def contact_find(value: str) -> ResidentContact | None:
    """The stored contact for what a resident typed, or None (also for something invalid)."""
    try:
        _kind, normalised = normalise_contact(value)
    except ServiceError:
        return None
    return ResidentContact.objects.filter(value_hash=contact_hash(normalised)).first()


def _contact_get_or_create(
    *, kind: str, value: str, language: str, name: str = ""
) -> ResidentContact:
    """The contact for this address, created with the given language and name if new.

    An existing contact is left as it is: anyone can type any address, so what they give is
    applied only once the address's owner confirms (see `_apply_verified`).
    """
    contact, _created = ResidentContact.objects.get_or_create(
        value_hash=contact_hash(value),
        defaults={
            "kind": kind,
            "value_encrypted": encrypt(value),
            "language": language,
            "name": name,
        },
    )
    return contact


def _language(language: str | None) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    language = (language or "").split("-")[0].lower()
    return language if language in codes else settings.LANGUAGE_CODE


# --- Verification (one-time link and code) -------------------------------------------------------


def _token_hash(token: str) -> str:
    # The token is 256 random bits: a plain hash cannot be reversed.
    return hashlib.sha256(token.encode()).hexdigest()


def _code_hash(token_hash: str, code: str) -> str:
    # Six digits are guessed offline in no time from a plain hash; keyed with SECRET_KEY and the
    # verification's own token, a leaked table alone does not give the codes away.
    return salted_hmac(
        "sites.verification-code", f"{token_hash}:{code}", algorithm="sha256"
    ).hexdigest()


def _new_verification(
    *, contact: ResidentContact, purpose: str, request: CoverageRequest | None
) -> ContactVerification:
    """A verification row (hashes only); the link and code travel to the email task by value."""
    token = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(1_000_000):06d}"
    token_hash = _token_hash(token)
    verification = ContactVerification.objects.create(
        contact=contact,
        purpose=purpose,
        request=request,
        token_hash=token_hash,
        code_hash=_code_hash(token_hash, code),
        expires_at=timezone.now() + timedelta(hours=settings.REQUEST_VERIFICATION_HOURS),
    )
    tasks.send_request_verification_email.delay_on_commit(verification.pk, token, code)
    return verification


def _invalid_link() -> ServiceError:
    return ServiceError(
        _("This link is not valid. Use the latest email we sent you, or start again."),
        code="invalid_token",
    )


def _wrong_code() -> ServiceError:
    return ServiceError(
        _("The code is wrong or has expired. Check the latest email we sent you."),
        field="code",
        code="invalid_code",
    )


def _usable(verification: ContactVerification, now) -> None:
    if verification.used_at is not None:
        raise ServiceError(_("This link has already been used."), code="used")
    if verification.expires_at <= now:
        raise ServiceError(
            _("This link has expired. Start again to get a new one."), code="expired"
        )
    if verification.attempts >= MAX_VERIFICATION_ATTEMPTS:
        raise ServiceError(
            _("Too many wrong codes were tried. Start again to get a new one."),
            code="too_many_attempts",
        )


def _match_code(*, contact_value: str, code: str, now) -> ContactVerification:
    """The pending verification of this contact that the code belongs to.

    A wrong code counts as an attempt on every pending verification of the contact (it was tried
    against each), so five guesses use a verification up whatever the resident has pending.
    """
    code = re.sub(r"\s", "", code or "")
    contact = contact_find(contact_value)
    pending = (
        list(
            contact.verifications.filter(
                used_at__isnull=True,
                expires_at__gt=now,
                attempts__lt=MAX_VERIFICATION_ATTEMPTS,
            )
        )
        if contact is not None
        else []
    )
    found = None
    for verification in pending:
        # Compare against every candidate, in constant time, whatever matched before.
        if constant_time_compare(_code_hash(verification.token_hash, code), verification.code_hash):
            found = verification
    if found is None:
        if pending:
            # Outside any transaction of this call: the attempt counts even though we refuse.
            ContactVerification.objects.filter(pk__in=[v.pk for v in pending]).update(
                attempts=F("attempts") + 1
            )
        raise _wrong_code()
    return found


def contact_verify(
    *,
    token: str | None = None,
    contact_value: str | None = None,
    code: str | None = None,
    ip: str | None = None,
) -> ContactVerification:
    """Use a one-time link (`token`) or an email address and its 6-digit `code`.

    Verifies the contact and applies what was pending: a new request becomes submitted (public
    and counted), a support counts, a follow starts; "access" only proves the address (the
    caller keeps the contact in the resident's session). Used, expired or wrong → ServiceError.
    """
    if ip is not None:
        ratelimit.hit(
            Limit(
                f"req-verify:ip:{ratelimit.ip_key(ip)}",
                settings.REQUEST_VERIFY_RATE_LIMIT_IP_PER_HOUR,
            )
        )
    now = timezone.now()
    if token:
        verification = ContactVerification.objects.filter(token_hash=_token_hash(token)).first()
        if verification is None:
            raise _invalid_link()
    elif contact_value and code:
        verification = _match_code(contact_value=contact_value, code=code, now=now)
    else:
        raise ServiceError(
            _("Open the link in the email, or enter your email address and the code."),
            field="code",
        )
    _usable(verification, now)

    with transaction.atomic():
        locked = (
            ContactVerification.objects.select_for_update()
            .select_related("contact")
            .get(pk=verification.pk)
        )
        _usable(locked, now)
        ContactVerification.objects.filter(pk=locked.pk).update(used_at=now)
        locked.used_at = now
        contact = locked.contact
        ResidentContact.objects.filter(pk=contact.pk).update(
            verified_at=contact.verified_at or now, last_seen_at=now
        )
        contact.verified_at, contact.last_seen_at = contact.verified_at or now, now
        if locked.request_id:
            _apply_verified(locked, now)
    return locked


def _survivor(request: CoverageRequest) -> CoverageRequest:
    """The request that counts: a merged request's survivor (following merges), or itself."""
    seen = set()
    while request.merged_into_id and request.pk not in seen:
        seen.add(request.pk)
        request = CoverageRequest.objects.get(pk=request.merged_into_id)
    return request


def _apply_verified(verification: ContactVerification, now) -> None:
    request = CoverageRequest.objects.select_related("kelurahan").get(pk=verification.request_id)
    contact = verification.contact
    purpose = verification.purpose
    if purpose == VerificationPurpose.SUBMIT:
        if request.requester_name and request.requester_name != contact.name:
            # Confirmed by the address's owner: their latest name is the one to greet them by.
            ResidentContact.objects.filter(pk=contact.pk).update(name=request.requester_name)
            contact.name = request.requester_name
        if request.status == RequestStatus.UNVERIFIED and request.contact_id == contact.pk:
            _transition(
                request=request,
                to=RequestStatus.SUBMITTED,
                actor=None,
                extra={"verified_at": now},
            )
        verification.request = request
        return
    target = _survivor(request)
    verification.request = target
    if purpose == VerificationPurpose.SUPPORT:
        _count_support(target, contact, now)
    elif purpose == VerificationPurpose.FOLLOW:
        _start_follow(target, contact, now)


def _lock(request: CoverageRequest) -> CoverageRequest:
    return CoverageRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)


def _recount_supports(request_id: int) -> int:
    """Store the number of verified supports; the caller holds the request's row lock, so two
    supports verified at once are both counted (the second counts after the first commits)."""
    count = RequestSupport.objects.filter(request_id=request_id, verified_at__isnull=False).count()
    CoverageRequest.objects.filter(pk=request_id).update(supports_count=count)
    requests_priority_refresh(requests=CoverageRequest.objects.filter(pk=request_id))
    return count


def _count_support(request: CoverageRequest, contact: ResidentContact, now) -> RequestSupport:
    locked = _lock(request)
    if locked.status not in OPEN_REQUEST_STATUSES:
        raise Conflict(
            _("This request is no longer open, so it cannot be supported."), code="closed"
        )
    if locked.contact_id == contact.pk:
        raise Conflict(_("This is your own request: it already counts."), code="own_request")
    support, _created = RequestSupport.objects.get_or_create(request=locked, contact=contact)
    if support.verified_at is None:
        RequestSupport.objects.filter(pk=support.pk).update(verified_at=now)
        support.verified_at = now
    request.supports_count = _recount_supports(locked.pk)
    return support


def _start_follow(request: CoverageRequest, contact: ResidentContact, now) -> RequestFollow:
    follow, _created = RequestFollow.objects.get_or_create(request=request, contact=contact)
    if follow.verified_at is None:
        RequestFollow.objects.filter(pk=follow.pk).update(verified_at=now)
        follow.verified_at = now
    return follow


# --- Submitting ---------------------------------------------------------------------------------


def _clean_text(value: str | None) -> str:
    return _CONTROL.sub("", value or "").strip()


def _location(lat, lon):
    try:
        lat = Decimal(str(lat)).quantize(_COORDINATE_STEP)
        lon = Decimal(str(lon)).quantize(_COORDINATE_STEP)
    except (ArithmeticError, ValueError, TypeError):
        raise ServiceError(
            _("Pin the spot on the map (latitude and longitude in decimal degrees)."), field="lat"
        ) from None
    try:
        area = kelurahan_at(lat=lat, lon=lon)
    except OutsideJakarta:
        raise ServiceError(
            _("This spot is outside DKI Jakarta. Requests can only be made for places in Jakarta."),
            field="lat",
            code="outside_jakarta",
        ) from None
    return lat, lon, area


def _next_reference(now) -> str:
    """REQ-<year>-<6 digits>, counting up within the year (Jakarta time)."""
    year = timezone.localtime(now).year
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REFERENCE_LOCK + year])
    prefix = f"REQ-{year}-"
    # Numbers are handed out under the lock, so the year's newest row holds the highest one.
    last = (
        CoverageRequest.objects.filter(reference__startswith=prefix)
        .order_by("-id")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last[len(prefix) :]) if last else 0
    return f"{prefix}{number + 1:06d}"


def _submit_limits(ip: str, value_hash: str) -> list[Limit]:
    return [
        Limit(f"req-submit:ip:{ratelimit.ip_key(ip)}", settings.REQUEST_RATE_LIMIT_IP_PER_HOUR),
        Limit(f"req-submit:contact:{value_hash}", settings.REQUEST_RATE_LIMIT_CONTACT_PER_HOUR),
    ]


def _support_limits(ip: str, value_hash: str) -> list[Limit]:
    return [
        Limit(
            f"req-support:ip:{ratelimit.ip_key(ip)}",
            settings.REQUEST_SUPPORT_RATE_LIMIT_IP_PER_HOUR,
        ),
        Limit(
            f"req-support:contact:{value_hash}",
            settings.REQUEST_SUPPORT_RATE_LIMIT_CONTACT_PER_HOUR,
        ),
    ]


def request_submit(
    *,
    lat,
    lon,
    category: str,
    description: str,
    contact: str,
    name: str = "",
    photo: UploadedFile | None = None,
    consent: bool,
    language: str,
    ip: str,
    honeypot: str = "",
) -> tuple[CoverageRequest, ContactVerification]:
    """A resident asks for a camera at a spot. The request waits (unverified, not public) until
    the contact confirms it through the emailed link or code.

    Refused with nothing stored: a filled honeypot, bad or missing fields, a spot outside
    Jakarta, a bad photo, or too many submissions from the address or the contact this hour
    (RateLimited, 429). Only stored submissions use up the limits.
    """
    if honeypot and honeypot.strip():
        # Deliberately vague: a bot learns nothing about what gave it away.
        raise ServiceError(_("Your request could not be accepted."), code="rejected")
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    description = _clean_text(description)
    name = _clean_text(name)
    if category not in RequestCategory.values:
        refuse("category", _("Choose a category."))
    if not description:
        refuse("description", _("Describe what happens at this spot."))
    elif len(description) > DESCRIPTION_MAX:
        refuse(
            "description",
            _("Keep the description under %(max)d characters.") % {"max": DESCRIPTION_MAX},
        )
    elif _NIK.search(description):
        refuse(
            "description",
            _("Do not write your NIK or any ID number here: we never need it."),
        )
    if len(name) > NAME_MAX:
        refuse("name", _("Keep the name under %(max)d characters.") % {"max": NAME_MAX})
    if consent is not True:
        refuse("consent", _("Read and accept the privacy notice to send a request."))
    kind = value = None
    try:
        kind, value = normalise_contact(contact)
    except ServiceError as error:
        refuse("contact", error.message)
    location = None
    try:
        location = _location(lat, lon)
    except ServiceError as error:
        if errors:
            refuse("lat", error.message)
        else:
            raise
    if errors:
        field, messages = next(iter(errors.items()))
        raise ServiceError(messages[0], field=field, errors=errors)
    lat, lon, kelurahan = location
    language = _language(language)
    limits = _submit_limits(ip, contact_hash(value))
    # Refuse early, before decoding a photo; the counting hit is made with the rows below.
    ratelimit.check_all(limits)
    photo_file = extension = None
    if photo:
        photo_file, extension, _sha = clean_photo(photo, max_bytes=settings.REQUEST_PHOTO_MAX_BYTES)

    stored_photo = None
    try:
        with transaction.atomic():
            ratelimit.hit_all(limits)
            resident = _contact_get_or_create(kind=kind, value=value, language=language, name=name)
            now = timezone.now()
            request = CoverageRequest(
                reference=_next_reference(now),
                lat=lat,
                lon=lon,
                kelurahan=kelurahan,
                category=category,
                description=description,
                contact=resident,
                requester_name=name,
                consent_at=now,
                privacy_notice_version=PRIVACY_NOTICE_VERSION,
                status=RequestStatus.UNVERIFIED,
            )
            if photo_file is not None:
                request.photo_extension = extension
                request.photo.save(f"photo.{extension}", photo_file, save=False)
                stored_photo = request.photo.name
            request.save()
            verification = _new_verification(
                contact=resident, purpose=VerificationPurpose.SUBMIT, request=request
            )
    except BaseException:
        # The row rolled back; the file would be an orphan holding someone's photo.
        if stored_photo:
            request.photo.storage.delete(stored_photo)
        raise
    return request, verification


# --- Supports and follows -----------------------------------------------------------------------


def _require_public(request: CoverageRequest) -> None:
    if request.status == RequestStatus.UNVERIFIED:
        raise ServiceError(_("This request is not public yet."), code="not_public")


def request_support(
    *,
    request: CoverageRequest,
    contact_value: str | None = None,
    ip: str,
    language: str,
    contact: ResidentContact | None = None,
) -> ContactVerification | RequestSupport:
    """A resident supports an open request: one support per contact, counted once verified.

    With a verified `contact` from the resident's session the support counts at once (409 if
    they already support it). With an email address a verification is sent, and the support
    counts when it is used; whether that address already supports the request is never told.
    """
    _require_public(request)
    if request.status not in OPEN_REQUEST_STATUSES:
        raise Conflict(
            _("This request is no longer open, so it cannot be supported."), code="closed"
        )
    language = _language(language)
    if contact is not None:
        if contact.verified_at is None:
            raise PermissionDenied(_("Confirm your email address first."), code="not_verified")
        with transaction.atomic():
            ratelimit.hit_all(_support_limits(ip, contact.value_hash))
            if RequestSupport.objects.filter(
                request=request, contact=contact, verified_at__isnull=False
            ).exists():
                raise Conflict(_("You already support this request."), code="already_supported")
            support = _count_support(request, contact, timezone.now())
            ResidentContact.objects.filter(pk=contact.pk).update(last_seen_at=timezone.now())
        request.refresh_from_db(fields=["supports_count"])
        return support
    kind, value = normalise_contact(contact_value)
    with transaction.atomic():
        ratelimit.hit_all(_support_limits(ip, contact_hash(value)))
        resident = _contact_get_or_create(kind=kind, value=value, language=language)
        if request.contact_id == resident.pk:
            raise Conflict(_("This is your own request: it already counts."), code="own_request")
        # Waiting for verification: stored, not counted.
        RequestSupport.objects.get_or_create(request=request, contact=resident)
        return _new_verification(
            contact=resident, purpose=VerificationPurpose.SUPPORT, request=request
        )


def request_follow(
    *,
    request: CoverageRequest,
    contact_value: str | None = None,
    contact: ResidentContact | None = None,
    ip: str,
    language: str,
) -> ContactVerification | RequestFollow:
    """A resident follows a request (an email on every status change), once verified.

    A merged request's survivor is followed instead.
    """
    _require_public(request)
    request = _survivor(request)
    language = _language(language)
    if contact is not None:
        if contact.verified_at is None:
            raise PermissionDenied(_("Confirm your email address first."), code="not_verified")
        with transaction.atomic():
            ratelimit.hit_all(_support_limits(ip, contact.value_hash))
            return _start_follow(request, contact, timezone.now())
    kind, value = normalise_contact(contact_value)
    with transaction.atomic():
        ratelimit.hit_all(_support_limits(ip, contact_hash(value)))
        resident = _contact_get_or_create(kind=kind, value=value, language=language)
        RequestFollow.objects.get_or_create(request=request, contact=resident)
        return _new_verification(
            contact=resident, purpose=VerificationPurpose.FOLLOW, request=request
        )


def request_unfollow(*, request: CoverageRequest, contact: ResidentContact) -> None:
    RequestFollow.objects.filter(request=request, contact=contact).delete()


def resident_request_access(*, contact_value: str, ip: str, language: str) -> None:
    """Send a "see my data" link to a contact we hold; for one we do not, do nothing.

    The caller shows the same answer either way, so nobody learns whether an address is known.
    """
    _kind, value = normalise_contact(contact_value)
    with transaction.atomic():
        ratelimit.hit_all(_support_limits(ip, contact_hash(value)))
        resident = ResidentContact.objects.filter(value_hash=contact_hash(value)).first()
        if resident is not None:
            _new_verification(contact=resident, purpose=VerificationPurpose.ACCESS, request=None)


# --- Lifecycle ----------------------------------------------------------------------------------


def _transition(
    *,
    request: CoverageRequest,
    to: str,
    actor,
    reason: str = "",
    extra: dict | None = None,
    check=None,
    after=None,
) -> CoverageRequest:
    """One guarded, logged step; the requester and followers are emailed after commit."""
    now = timezone.now()
    fields = {
        "status_changed_at": now,
        "closed_at": now if to in CLOSED_REQUEST_STATUSES else None,
        **(extra or {}),
    }

    def recorded(locked: CoverageRequest, change: RequestStatusChange) -> None:
        if after is not None:
            after(locked)
        if change.new_status in OPEN_REQUEST_STATUSES and change.old_status not in (
            OPEN_REQUEST_STATUSES
        ):  # verified or reopened: into the queue with a current priority
            requests_priority_refresh(requests=CoverageRequest.objects.filter(pk=locked.pk))
        if _counts_as_recent(change.old_status) != _counts_as_recent(change.new_status):
            # Verified or merged: it starts or stops counting among its neighbours' recent
            # requests.
            requests_priority_refresh_near_later(
                lat=locked.lat, lon=locked.lon, radius_m=request_selectors.RECENT_NEARBY_RADIUS_M
            )
        tasks.send_request_status_email.delay_on_commit(change.pk)

    return transition(
        instance=request,
        to=to,
        allowed=REQUEST_TRANSITIONS,
        log_model=RequestStatusChange,
        log_fields={"request": request},
        actor=actor,
        reason=reason,
        extra=fields,
        check=check,
        after=recorded,
        conflict_message=_(
            "The request is now “%(old)s”, so it cannot become “%(new)s”. "
            "Someone may have acted on it first: reload it to see."
        ),
    )


def _kota_id(request: CoverageRequest) -> int | None:
    return request.kelurahan.parent.parent_id


def can_triage(actor, request: CoverageRequest) -> bool:
    """A Kominfotik officer, or the Sudin officer of the request's kota."""
    return is_city_officer(actor) or (
        is_sudin_officer(actor) and _kota_id(request) == actor.kota_id
    )


def _require_officer(actor, request: CoverageRequest) -> None:
    if not can_triage(actor, request):
        raise PermissionDenied(
            _("Only a Kominfotik officer for this area can act on this request."),
            code="permission_denied",
        )


def _reason(reason: str | None, *, required: bool = False) -> str:
    reason = _clean_text(reason)
    if required and not reason:
        raise ServiceError(_("Give a reason."), field="reason")
    if len(reason) > REASON_MAX:
        raise ServiceError(
            _("Keep the reason under %(max)d characters.") % {"max": REASON_MAX}, field="reason"
        )
    return reason


def request_start_review(*, request: CoverageRequest, actor, reason: str = "") -> CoverageRequest:
    """An officer starts looking at a request (also: back to review from planned or reopened)."""
    _require_officer(actor, request)
    return _transition(
        request=request,
        to=RequestStatus.UNDER_REVIEW,
        actor=actor,
        reason=_reason(reason),
        extra={"site": None},
    )


def request_plan(
    *, request: CoverageRequest, actor, site: Site, reason: str = ""
) -> CoverageRequest:
    """An officer links the request to a site that will cover it.

    When that site becomes active the request is installed; a site that is active already
    installs it at once.
    """
    _require_officer(actor, request)
    site_kota = site.kelurahan.parent.parent_id
    if not (is_city_officer(actor) or site_kota == actor.kota_id):
        raise PermissionDenied(
            _("This site is outside your area."), field="site", code="permission_denied"
        )
    if site.status in {SiteStatus.REJECTED, SiteStatus.DECOMMISSIONED}:
        raise ServiceError(
            _("This site was rejected or decommissioned; choose another."), field="site"
        )
    with transaction.atomic():
        request = _transition(
            request=request,
            to=RequestStatus.PLANNED,
            actor=actor,
            reason=_reason(reason),
            extra={"site": site},
        )
        if site.status == SiteStatus.ACTIVE:
            request_mark_installed_for_site(site_id=site.pk)
    request.refresh_from_db()
    return request


def _decline_text(template: str | None, reason: str, language: str) -> str:
    if not template:
        return reason
    found = DeclineTemplate.objects.filter(code=template).first()
    if found is None:
        raise ServiceError(_("Unknown decline template."), field="template")
    body = found.body_id if language.startswith("id") else found.body_en
    return f"{body}\n\n{reason}".strip()


def request_decline(
    *, request: CoverageRequest, actor, reason: str = "", template: str | None = None
) -> CoverageRequest:
    """An officer declines with a reason: their own words, a template, or both (the template in
    the requester's language, since the reason is written to them)."""
    _require_officer(actor, request)
    language = request.contact.language if request.contact_id else settings.LANGUAGE_CODE
    text = _decline_text(template, _reason(reason), language)
    if not text:
        raise ServiceError(_("Give a reason or choose a template."), field="reason")
    return _transition(
        request=request,
        to=RequestStatus.DECLINED,
        actor=actor,
        reason=text,
        extra={"decline_reason": text},
    )


def request_merge(
    *, request: CoverageRequest, into: CoverageRequest, actor, reason: str = ""
) -> CoverageRequest:
    """An officer merges a duplicate into the request that stays (the survivor).

    Supports and follows are copied to the survivor (a contact already there is not added
    twice; a verification made on either side counts), the duplicate's requester becomes a
    supporter and follower of the survivor, and the survivor's count is recomputed. The
    duplicate keeps its own rows as history and points to the survivor.
    """
    _require_officer(actor, request)
    _require_officer(actor, into)
    if request.pk == into.pk:
        raise ServiceError(_("A request cannot be merged into itself."), field="into")
    if into.merged_into_id or into.status not in OPEN_REQUEST_STATUSES:
        raise ServiceError(
            _("Merge into an open request (not one that is closed or merged)."), field="into"
        )
    reason = _reason(reason)
    with transaction.atomic():
        # Both rows, in id order, so two merges of the same pair cannot deadlock.
        list(
            CoverageRequest.objects.select_for_update(of=("self",))
            .filter(pk__in=[request.pk, into.pk])
            .order_by("pk")
        )
        survivor = CoverageRequest.objects.get(pk=into.pk)
        if survivor.status not in OPEN_REQUEST_STATUSES:
            raise Conflict(_("The request to merge into is no longer open."), code="closed")

        def carry_over(locked: CoverageRequest) -> None:
            _copy_rows(RequestSupport, locked, survivor)
            _copy_rows(RequestFollow, locked, survivor)
            if locked.contact_id and locked.contact_id != survivor.contact_id:
                # The duplicate's requester asked for the same camera: their voice moves too.
                when = locked.verified_at or timezone.now()
                for model in (RequestSupport, RequestFollow):
                    row, _created = model.objects.get_or_create(
                        request=survivor, contact_id=locked.contact_id
                    )
                    if row.verified_at is None:
                        model.objects.filter(pk=row.pk).update(verified_at=when)
            _recount_supports(survivor.pk)

        request = _transition(
            request=request,
            to=RequestStatus.MERGED,
            actor=actor,
            reason=reason,
            extra={"merged_into": survivor},
            after=carry_over,
        )
    into.refresh_from_db()
    return request


def _copy_rows(model, source: CoverageRequest, survivor: CoverageRequest) -> None:
    """Supports or follows of `source` onto `survivor`, once per contact, never the survivor's
    own requester; a row verified on either side ends up verified."""
    rows = model.objects.filter(request=source).exclude(contact_id=survivor.contact_id or 0)
    existing = dict(model.objects.filter(request=survivor).values_list("contact_id", "verified_at"))
    model.objects.bulk_create(
        [
            model(request=survivor, contact_id=row.contact_id, verified_at=row.verified_at)
            for row in rows
            if row.contact_id not in existing
        ],
        ignore_conflicts=True,
    )
    verified_here = [
        row.contact_id
        for row in rows
        if row.verified_at and row.contact_id in existing and existing[row.contact_id] is None
    ]
    if verified_here:
        model.objects.filter(
            request=survivor, contact_id__in=verified_here, verified_at__isnull=True
        ).update(verified_at=timezone.now())


def request_mark_installed_for_site(*, site_id: int) -> int:
    """The planned requests linked to a site that just became active are installed; each
    requester is asked whether it works (confirm or reopen). Returns how many.

    Called by sites.services in the transaction that activates the site.
    """
    count = 0
    planned = CoverageRequest.objects.filter(site_id=site_id, status=RequestStatus.PLANNED)
    for request in planned.select_related("kelurahan").order_by("pk"):
        _transition(request=request, to=RequestStatus.INSTALLED, actor=None)
        count += 1
    return count


# --- Priority -----------------------------------------------------------------------------------
# Stored on the row (CoverageRequest.priority_*) so the officers' queue reads its first page from
# an index, and kept current while a request is open (the queue ranks open requests; one that
# leaves keeps the priority it had, and is scored afresh if it comes back). Scoring is a couple of
# milliseconds a request, so a request's own row is refreshed in the service's transaction and a
# neighbourhood by the refresh_request_priorities task once the change commits: a request
# verified or merged (its neighbours' count of recent requests), a site with cameras going active
# or not, a camera added to an active site (sites.services), a rawan level. The daily run of the
# same task refreshes every open request, since the 90-day window moves on its own.

# Statuses that never count among a request's recent neighbours.
_NOT_RECENT = {RequestStatus.UNVERIFIED, RequestStatus.MERGED}


def _counts_as_recent(status: str) -> bool:
    return bool(status) and status not in _NOT_RECENT


def requests_priority_refresh(*, requests: QuerySet[CoverageRequest], now=None) -> int:
    """Store the priority (request_selectors.priority_sql) of every request in `requests` with
    one UPDATE; returns how many rows changed. A row whose priority is the same is not
    written: the daily refresh would otherwise leave a dead version of every open request."""
    now = now or timezone.now()
    table = CoverageRequest._meta.db_table
    with transaction.atomic():
        # Locked in id order first: two refreshes of overlapping areas then wait for each other
        # instead of deadlocking.
        ids = list(
            requests.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True)
        )
        if not ids:
            return 0
        select_sql, params = request_selectors.priority_sql(ids=ids, now=now)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS r SET priority_rawan = p.rawan,"
                " priority_distance_m = p.distance_m, priority_recent = p.recent,"
                " priority_score = p.score, priority_rank = p.rank"
                f" FROM ({select_sql}) AS p WHERE r.id = p.id"
                " AND (r.priority_rawan, r.priority_distance_m, r.priority_recent,"
                " r.priority_score, r.priority_rank)"
                " IS DISTINCT FROM (p.rawan, p.distance_m, p.recent, p.score, p.rank)",
                params,
            )
            return cursor.rowcount


def requests_priority_refresh_open(
    *,
    near: tuple[Decimal, Decimal, float] | None = None,
    kelurahan_id: int | None = None,
    batch_size: int = 1000,
    now=None,
) -> int:
    """Refresh the priority of the open requests: all of them, those a change at a point may
    move (`near`: latitude, longitude and reach in metres), or those of one kelurahan.

    A batch of ids at a time, each in its own short transaction, so a refresh of the whole city
    never holds a row for long. Returns how many rows changed.
    """
    now = now or timezone.now()
    requests = CoverageRequest.objects.filter(status__in=OPEN_REQUEST_STATUSES)
    if near is not None:
        lat, lon, radius_m = near
        requests = requests & request_selectors.requests_near(lat=lat, lon=lon, radius_m=radius_m)
    if kelurahan_id is not None:
        requests = requests.filter(kelurahan_id=kelurahan_id)
    written, after = 0, 0
    while True:
        ids = list(
            requests.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return written
        written += requests_priority_refresh(
            requests=requests.filter(pk__gt=after, pk__lte=ids[-1]), now=now
        )
        after = ids[-1]


def requests_priority_refresh_near_later(*, lat, lon, radius_m: float) -> None:
    """Refresh the open requests within `radius_m` of (lat, lon) once this transaction commits,
    in the task's own transactions: the caller may hold a request's row lock, and taking its
    neighbours' as well could deadlock with a neighbour doing the same."""
    tasks.refresh_request_priorities.delay_on_commit(lat=str(lat), lon=str(lon), radius_m=radius_m)


def _require_requester(request: CoverageRequest, contact: ResidentContact | None) -> None:
    if contact is None or request.contact_id != contact.pk:
        raise PermissionDenied(
            _("Only the resident who made this request can answer for it."),
            code="not_requester",
        )


def request_confirm(*, request: CoverageRequest, contact: ResidentContact) -> CoverageRequest:
    """The requester confirms the installed camera works."""
    _require_requester(request, contact)
    return _transition(request=request, to=RequestStatus.CONFIRMED, actor=None)


def request_reopen(
    *,
    request: CoverageRequest,
    contact: ResidentContact | None = None,
    actor=None,
    reason: str,
) -> CoverageRequest:
    """The requester (or an officer) says the camera does not help after all: back to triage."""
    if actor is not None:
        _require_officer(actor, request)
    else:
        _require_requester(request, contact)
    return _transition(
        request=request,
        to=RequestStatus.REOPENED,
        actor=actor,
        reason=_reason(reason, required=True),
    )


FEEDBACK_ANSWERS = ("confirm", "reopen")


def feedback_token(*, request_id: int, contact_id: int) -> str:
    """The token in the "is it working?" email's links (signed, expires)."""
    return signing.dumps({"r": request_id, "c": contact_id}, salt=_FEEDBACK_SALT, compress=True)


def feedback_request(*, token: str) -> tuple[CoverageRequest, ResidentContact]:
    """The request and requester a feedback link is for; ServiceError if bad or expired."""
    try:
        data = signing.loads(
            token, salt=_FEEDBACK_SALT, max_age=timedelta(days=settings.REQUEST_FEEDBACK_LINK_DAYS)
        )
    except signing.SignatureExpired:
        raise ServiceError(
            _("This link has expired. Reply from the request's page instead."), code="expired"
        ) from None
    except signing.BadSignature:
        raise _invalid_link() from None
    request = (
        CoverageRequest.objects.select_related("kelurahan__parent", "contact")
        .filter(pk=data.get("r"), contact_id=data.get("c"))
        .first()
    )
    if request is None or request.contact is None:
        raise _invalid_link()
    return request, request.contact


def feedback_contact(*, request: CoverageRequest, token: str) -> ResidentContact | None:
    """The requester, if `token` is a valid, unexpired feedback link for this request."""
    try:
        found, contact = feedback_request(token=token)
    except ServiceError:
        return None
    return contact if found.pk == request.pk else None


def request_feedback(*, token: str, answer: str, reason: str = "") -> CoverageRequest:
    """The requester's answer from the "is it working?" email: confirm, or reopen with a reason."""
    request, contact = feedback_request(token=token)
    if answer == "confirm":
        return request_confirm(request=request, contact=contact)
    if answer == "reopen":
        return request_reopen(request=request, contact=contact, reason=reason)
    raise ServiceError(_("Answer confirm or reopen."), field="answer")


def request_add_note(*, request: CoverageRequest, actor, body: str) -> RequestNote:
    """An officer's private note (never shown to residents or the public)."""
    _require_officer(actor, request)
    body = _clean_text(body)
    if not body:
        raise ServiceError(_("Write the note."), field="body")
    if len(body) > NOTE_MAX:
        raise ServiceError(
            _("Keep the note under %(max)d characters.") % {"max": NOTE_MAX}, field="body"
        )
    return RequestNote.objects.create(request=request, author=actor, body=body)


# --- Privacy (UU PDP No. 27/2022) ---------------------------------------------------------------


def _erase_personal_data(requests, now) -> int:
    """Clear contact, name and photo of these requests (files removed after commit)."""
    photos = list(requests.exclude(photo="").values_list("photo", flat=True))
    count = requests.update(
        contact=None,
        requester_name="",
        photo="",
        photo_extension="",
        personal_data_purged_at=now,
    )
    if photos:
        storage = CoverageRequest._meta.get_field("photo").storage

        def remove() -> None:
            for name in photos:
                storage.delete(name)

        transaction.on_commit(remove)
    return count


def _delete_orphan_contacts(now) -> int:
    """Contacts left with nothing: no request, support or follow, and no link still pending."""
    pending = ContactVerification.objects.filter(used_at__isnull=True, expires_at__gt=now)
    orphans = ResidentContact.objects.filter(
        ~Q(pk__in=CoverageRequest.objects.filter(contact__isnull=False).values("contact_id")),
        ~Q(pk__in=RequestSupport.objects.values("contact_id")),
        ~Q(pk__in=RequestFollow.objects.values("contact_id")),
        ~Q(pk__in=pending.values("contact_id")),
    )
    deleted, _rows = orphans.delete()
    return deleted


@transaction.atomic
def _close_unanswered_installations(now) -> None:
    unanswered = CoverageRequest.objects.filter(
        status=RequestStatus.INSTALLED,
        status_changed_at__lt=now - timedelta(days=UNANSWERED_INSTALLED_DAYS),
    )
    for request in unanswered.order_by("pk"):
        _transition(
            request=request,
            to=RequestStatus.CONFIRMED,
            actor=None,
            reason=_("No answer within %(days)d days of the installation: taken as working.")
            % {"days": UNANSWERED_INSTALLED_DAYS},
        )


def requests_purge_personal_data(*, now=None) -> int:
    """Erase the personal data of requests closed more than REQUEST_PURGE_AFTER_DAYS ago.

    Their contact link, name and photo are cleared and their supports and follows dropped (the
    support count stays on the request); requests never verified are deleted after a week, and
    so are supports and follows never confirmed; installations nobody answered about for
    UNANSWERED_INSTALLED_DAYS are closed as working; contacts left with nothing are deleted.
    Safe to run twice. Returns the requests purged.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.REQUEST_PURGE_AFTER_DAYS)
    closed = CoverageRequest.objects.filter(
        status__in=CLOSED_REQUEST_STATUSES,
        closed_at__lt=cutoff,
        personal_data_purged_at__isnull=True,
    )
    ids = list(closed.values_list("pk", flat=True))
    purged = _erase_personal_data(CoverageRequest.objects.filter(pk__in=ids), now)
    RequestSupport.objects.filter(request_id__in=ids).delete()
    RequestFollow.objects.filter(request_id__in=ids).delete()
    ContactVerification.objects.filter(request_id__in=ids).delete()

    abandoned = CoverageRequest.objects.filter(
        status=RequestStatus.UNVERIFIED, created_at__lt=now - timedelta(days=UNVERIFIED_KEEP_DAYS)
    )
    _erase_personal_data(abandoned, now)
    abandoned.delete()
    # A support or follow whose email was never confirmed holds an address nobody vouched for.
    stale = now - timedelta(days=UNVERIFIED_KEEP_DAYS)
    RequestSupport.objects.filter(verified_at__isnull=True, created_at__lt=stale).delete()
    RequestFollow.objects.filter(verified_at__isnull=True, created_at__lt=stale).delete()
    _close_unanswered_installations(now)
    ContactVerification.objects.filter(expires_at__lt=now - timedelta(days=30)).delete()
    _delete_orphan_contacts(now)
    ratelimit.purge_expired(now=now)
    return purged


def resident_export(*, contact: ResidentContact) -> dict:
    """Everything held about this contact, as JSON-ready data (the resident's right of access)."""

    def when(value):
        return value.isoformat() if value else None

    requests = (
        CoverageRequest.objects.filter(contact=contact)
        .select_related("kelurahan")
        .prefetch_related("status_changes")
        .order_by("created_at", "id")
    )
    return {
        "exported_at": timezone.now().isoformat(),
        "contact": {
            "kind": contact.kind,
            "value": contact_value(contact),
            "name": contact.name,
            "language": contact.language,
            "verified_at": when(contact.verified_at),
            "created_at": when(contact.created_at),
            "last_seen_at": when(contact.last_seen_at),
        },
        "requests": [
            {
                "reference": item.reference,
                "status": item.status,
                "category": item.category,
                "lat": str(item.lat),
                "lon": str(item.lon),
                "kelurahan": item.kelurahan.name,
                "description": item.description,
                "name": item.requester_name,
                "has_photo": bool(item.photo),
                "consent_at": when(item.consent_at),
                "privacy_notice_version": item.privacy_notice_version,
                "created_at": when(item.created_at),
                "closed_at": when(item.closed_at),
                "history": [
                    {
                        "from": change.old_status,
                        "to": change.new_status,
                        "at": when(change.created_at),
                        "reason": change.reason,
                    }
                    for change in item.status_changes.all()
                ],
            }
            for item in requests
        ],
        "supports": [
            {"request": ref, "verified_at": when(verified), "created_at": when(created)}
            for ref, verified, created in contact.supports.order_by("id").values_list(
                "request__reference", "verified_at", "created_at"
            )
        ],
        "follows": [
            {"request": ref, "verified_at": when(verified), "created_at": when(created)}
            for ref, verified, created in contact.follows.order_by("id").values_list(
                "request__reference", "verified_at", "created_at"
            )
        ],
        "verifications": [
            {
                "purpose": purpose,
                "created_at": when(created),
                "used_at": when(used),
                "expires_at": when(expires),
            }
            for purpose, created, used, expires in contact.verifications.order_by("id").values_list(
                "purpose", "created_at", "used_at", "expires_at"
            )
        ],
    }


@transaction.atomic
def resident_delete(*, contact: ResidentContact) -> None:
    """Erase a resident's personal data now (their right to erasure).

    Their requests stay (others may support them, officers may have planned a camera) but lose
    the link to the contact, the name and the photo; a request never verified is deleted.
    Supports are withdrawn with the contact (a support is a statement by a person we could no
    longer tell apart from a second one), so the counts of the requests they supported drop.
    Follows and pending links go. The caller ends the resident's session.
    """
    now = timezone.now()
    unverified = CoverageRequest.objects.filter(
        pk__in=list(
            CoverageRequest.objects.filter(
                contact=contact, status=RequestStatus.UNVERIFIED
            ).values_list("pk", flat=True)
        )
    )
    _erase_personal_data(unverified, now)
    unverified.delete()
    _erase_personal_data(CoverageRequest.objects.filter(contact=contact), now)
    supported = list(
        contact.supports.filter(verified_at__isnull=False).values_list("request_id", flat=True)
    )
    ResidentContact.objects.filter(pk=contact.pk).delete()
    for request_id in sorted(supported):
        CoverageRequest.objects.select_for_update().filter(pk=request_id).first()
        _recount_supports(request_id)
