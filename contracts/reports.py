"""SLA reports as files: CSV and XLSX of the data contracts.sla_selectors puts together.

Headers follow the active language. Numbers stay numbers in XLSX (availability, hours, counts)
and are written with a dot in CSV. Text typed by users (site addresses, names) that starts with
= + - @ would run as a formula in a spreadsheet: in CSV such cells get a leading apostrophe, in
XLSX every text cell is stored as text (openpyxl would store "=…" as a formula).
(The PDF of the issue is a print-friendly HTML page, templates/contracts/sla_print.html: no PDF
library is installed and a browser prints the page to PDF as well.)
"""

import csv
import io
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _camera_columns() -> list[tuple[str, Callable[[dict, dict], object]]]:
    """(header, value(section, camera row)) for the per-camera table."""
    return [
        (_("Contract"), lambda s, r: s["contract"]["label"]),
        (_("Camera"), lambda s, r: r["camera"]),
        (_("Site"), lambda s, r: r["site"]),
        (_("Kelurahan"), lambda s, r: r["kelurahan"]),
        (_("Kota"), lambda s, r: r["kota"]),
        (_("Availability (%)"), lambda s, r: r["availability"]),
        (_("Target (%)"), lambda s, r: r["target"]),
        (_("Result"), lambda s, r: r["status_label"]),
        (_("Counted hours"), lambda s, r: r["counted_hours"]),
        (_("Down hours"), lambda s, r: r["down_hours"]),
        (_("Maintenance hours"), lambda s, r: r["maintenance_hours"]),
        (_("Outages"), lambda s, r: r["outages"]),
    ]


def _ticket_columns() -> list[tuple[str, str]]:
    return [
        (_("Tickets opened"), "opened"),
        (_("Acknowledge clocks"), "acknowledge_clocks"),
        (_("Acknowledged in time"), "acknowledged_in_time"),
        (_("Acknowledged in time (%)"), "acknowledged_in_time_pct"),
        (_("Repair clocks"), "repair_clocks"),
        (_("Repaired in time"), "repaired_in_time"),
        (_("Repaired in time (%)"), "repaired_in_time_pct"),
    ]


def _breach_columns() -> list[tuple[str, Callable[[dict, dict], object]]]:
    return [
        (_("Contract"), lambda s, b: s["contract"]["label"]),
        (_("Breach"), lambda s, b: b["kind_label"]),
        (_("Responsible party"), lambda s, b: b["responsible"]),
        (_("Camera"), lambda s, b: b["camera"]),
        (_("Ticket"), lambda s, b: b["ticket"]),
        (_("Target (%)"), lambda s, b: b["target"]),
        (_("Measured (%)"), lambda s, b: b["measured"]),
        (_("Was due"), lambda s, b: b["due_at"]),
        (_("Detected"), lambda s, b: b["detected_at"]),
    ]


def sections_of(report: dict) -> list[dict]:
    """A partner report's contract sections, or the one section a contract report is."""
    return report.get("contracts", [report])


def filename(report: dict, extension: str) -> str:
    """sla-PKS-0001-DISKOMINFOTIK-2026-2026-11.csv (an addendum adds -v2), or
    sla-partner-12-2026-11.xlsx."""
    if "partner" in report:
        stem = f"partner-{report['partner']['id']}"
    else:
        contract = report["contract"]
        stem = re.sub(r"[^A-Za-z0-9]+", "-", contract["number"]).strip("-") or "contract"
        if contract["version"] > 1:
            stem += f"-v{contract['version']}"
    return f"sla-{stem}-{report['month']:%Y-%m}.{extension}"


def _attachment(body: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(_safe(value))


def csv_response(report: dict) -> HttpResponse:
    """One row per camera (of every contract section); a UTF-8 BOM so Excel reads the accents."""
    columns = _camera_columns()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([header for header, _value in columns])
    for section in sections_of(report):
        for row in section["cameras"]:
            writer.writerow([_text(value(section, row)) for _header, value in columns])
    body = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    return _attachment(body, CSV_TYPE, filename(report, "csv"))


def _cell(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        # Spreadsheets have no time zones: local (WIB) wall time.
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def _sheet(book: Workbook, title: str, headers: list[str], rows: Iterable[list]) -> None:
    sheet = book.create_sheet(title=title[:31])
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(value) for value in row])
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(header) + 2)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"
            elif isinstance(cell.value, float):
                cell.number_format = "0.00"
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
    sheet.freeze_panes = "A2"


def xlsx_response(report: dict) -> HttpResponse:
    """Three sheets: cameras, ticket clocks per contract, breaches."""
    sections = sections_of(report)
    book = Workbook()
    book.remove(book.active)
    cameras = _camera_columns()
    _sheet(
        book,
        _("Cameras"),
        [header for header, _value in cameras],
        ([value(s, row) for _header, value in cameras] for s in sections for row in s["cameras"]),
    )
    tickets = _ticket_columns()
    _sheet(
        book,
        _("Tickets"),
        [_("Contract"), *(header for header, _key in tickets)],
        ([s["contract"]["label"], *(s["tickets"][key] for _h, key in tickets)] for s in sections),
    )
    breaches = _breach_columns()
    _sheet(
        book,
        _("Breaches"),
        [header for header, _value in breaches],
        ([value(s, b) for _header, value in breaches] for s in sections for b in s["breaches"]),
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return _attachment(buffer.getvalue(), XLSX_TYPE, filename(report, "xlsx"))
