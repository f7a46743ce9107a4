"""Bulk pole registration from a CSV file, all or nothing, with a row-by-row report.

Only sites.services.poles_import_csv calls this, after checking who may import. Every row is
validated before anything is written; one rejected row means nothing is imported.
"""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from partners.models import Partner
from portal.errors import ServiceError
from sites.models import UtilityPole
from sites.selectors import OutsideJakarta, kelurahan_at

COLUMNS = ["code", "lat", "lon", "power_available", "fibre_available", "slots_total"]
MAX_FILE_BYTES = 1024 * 1024
MAX_ROWS = 5000
TRUE_WORDS = {"yes", "true", "1", "ya", "y"}
FALSE_WORDS = {"no", "false", "0", "tidak", "n", ""}
_STEP = Decimal("0.000001")
_CODE_MAX = UtilityPole._meta.get_field("code").max_length


@dataclass(frozen=True)
class RowError:
    """One reason a row was rejected. `row` is the line in the file (the header is line 1)."""

    row: int
    field: str
    reason: str


@dataclass
class PoleImportReport:
    """What an import did: the codes created and updated, or every rejected row."""

    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        return not self.errors and bool(self.created or self.updated)


def _read_text(file) -> str:
    size = getattr(file, "size", None)
    if size is not None and size > MAX_FILE_BYTES:
        raise ServiceError(_too_large(), field="file")
    if hasattr(file, "seek"):
        file.seek(0)
    raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ServiceError(_too_large(), field="file")
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        # utf-8-sig drops the byte-order mark spreadsheets write at the start.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError(_("The file must be UTF-8 encoded CSV."), field="file") from None


def _too_large() -> str:
    return _("The file is too large: at most %(kb)d KB and %(rows)d rows.") % {
        "kb": MAX_FILE_BYTES // 1024,
        "rows": MAX_ROWS,
    }


def _boolean(value: str) -> bool | None:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _parse_row(number: int, row: dict[str, str], errors: list[RowError]) -> dict | None:
    """The pole's fields from one row, or None after adding every problem to `errors`."""
    found: list[RowError] = []
    values: dict[str, object] = {}

    def reject(name: str, reason: str) -> None:
        found.append(RowError(number, name, reason))

    code = (row.get("code") or "").strip()
    if not code:
        reject("code", _("The pole code is empty."))
    elif len(code) > _CODE_MAX:
        reject("code", _("The pole code is longer than %(n)d characters.") % {"n": _CODE_MAX})
    values["code"] = code
    for name in ("lat", "lon"):
        try:
            values[name] = Decimal((row.get(name) or "").strip()).quantize(_STEP)
        except (InvalidOperation, ValueError):
            reject(name, _("Not a number in decimal degrees."))
    if "lat" in values and "lon" in values:
        try:
            values["kelurahan"] = kelurahan_at(lat=values["lat"], lon=values["lon"])
        except OutsideJakarta as error:
            reject("lat", error.message)
        except ServiceError as error:
            reject(error.field or "lat", error.message)
    for name in ("power_available", "fibre_available"):
        flag = _boolean(row.get(name) or "")
        if flag is None:
            reject(name, _("Use yes/no, true/false, 1/0 or ya/tidak."))
        values[name] = flag
    slots = (row.get("slots_total") or "").strip()
    if not slots.isdigit() or not 1 <= int(slots) <= 20:
        reject("slots_total", _("A whole number from 1 to 20."))
    else:
        values["slots_total"] = int(slots)
    errors.extend(found)
    return None if found else values


def import_poles(*, owner: Partner, file) -> PoleImportReport:
    """Validate every row, then create or update (by code) all poles in one transaction."""
    text = _read_text(file)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if sorted(header) != sorted(COLUMNS):
        raise ServiceError(
            _("The first line must name the columns: %(columns)s (found: %(found)s).")
            % {"columns": ", ".join(COLUMNS), "found": ", ".join(header) or _("nothing")},
            code="bad_header",
            field="file",
        )
    reader.fieldnames = header
    report = PoleImportReport()
    parsed: list[tuple[int, dict]] = []
    first_row_of: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        if None in row:
            report.errors.append(
                RowError(number, "row", _("More values than columns in the header."))
            )
            continue
        if not any((value or "").strip() for value in row.values()):
            continue  # blank line
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise ServiceError(_too_large(), field="file")
        values = _parse_row(number, row, report.errors)
        code = (row.get("code") or "").strip()
        if code and code in first_row_of:
            report.errors.append(
                RowError(
                    number,
                    "code",
                    _("The code %(code)s is already used on row %(row)d.")
                    % {"code": code, "row": first_row_of[code]},
                )
            )
            continue
        if code:
            first_row_of[code] = number
        if values is not None:
            parsed.append((number, values))
    if not report.rows and not report.errors:
        raise ServiceError(_("The file has no pole rows."), field="file")
    existing = {
        pole.code: pole
        for pole in UtilityPole.objects.filter(
            owner=owner, code__in=[values["code"] for _n, values in parsed]
        )
    }
    for number, values in parsed:
        pole = existing.get(values["code"])
        if pole is not None and values["slots_total"] < pole.slots_used:
            report.errors.append(
                RowError(
                    number,
                    "slots_total",
                    _("%(used)d slots of this pole are in use: the total cannot be lower.")
                    % {"used": pole.slots_used},
                )
            )
    if report.errors:
        report.errors.sort(key=lambda error: error.row)
        return report
    try:
        with transaction.atomic():
            _write(owner, parsed, existing, report)
    except IntegrityError:
        # A pole with one of these codes was registered meanwhile: nothing was imported.
        raise ServiceError(
            _("The poles changed while importing; nothing was imported. Try again."),
            field="file",
        ) from None
    return report


def _write(owner: Partner, parsed: list, existing: dict, report: PoleImportReport) -> None:
    ids = [pole.pk for pole in existing.values()]
    poles = UtilityPole.objects.select_for_update().filter(pk__in=ids)
    locked = {pole.code: pole for pole in poles}
    new = []
    for _number, values in parsed:
        pole = locked.get(values["code"])
        if pole is None:
            new.append(UtilityPole(owner=owner, **values))
            report.created.append(values["code"])
            continue
        # A slot reserved since validation makes this save break the slots-used check
        # constraint (IntegrityError): the whole import is then refused.
        for name, value in values.items():
            setattr(pole, name, value)
        pole.save()
        report.updated.append(values["code"])
    UtilityPole.objects.bulk_create(new)
