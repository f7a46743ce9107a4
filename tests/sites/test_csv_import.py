import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from partners.models import PartnerKind
from portal.errors import PermissionDenied, ServiceError
from sites import csv_import, services
from sites.models import UtilityPole
from tests import factories

HEADER = "code,lat,lon,power_available,fibre_available,slots_total\n"
GOOD_ROWS = (
    "TN-001,-6.175305,106.826442,yes,no,2\n"
    "TN-002,-6.136145,106.723420,ya,tidak,4\n"
    "TN-003,-6.233805,106.855641,1,TRUE,1\n"
)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def pole_owner(db):
    return factories.make_partner(kind=PartnerKind.POLE_OWNER)


def upload(text: str, *, bom: bool = False) -> SimpleUploadedFile:
    body = text.encode("utf-8")
    if bom:
        body = b"\xef\xbb\xbf" + body
    return SimpleUploadedFile("poles.csv", body, content_type="text/csv")


def run(pole_owner, text: str, **kwargs):
    return services.poles_import_csv(
        owner=pole_owner, actor=pole_owner.created_by, file=upload(text, **kwargs)
    )


def test_poles_import_csv_creates_every_row_with_its_kelurahan(pole_owner):
    report = run(pole_owner, HEADER + GOOD_ROWS)
    assert report.imported
    assert report.created == ["TN-001", "TN-002", "TN-003"]
    poles = {pole.code: pole for pole in UtilityPole.objects.filter(owner=pole_owner)}
    assert poles["TN-001"].kelurahan.code == "31.71.01.1001"
    assert poles["TN-002"].kelurahan.code == "31.73.01.1001"
    assert (poles["TN-002"].power_available, poles["TN-002"].fibre_available) == (True, False)
    assert (poles["TN-003"].fibre_available, poles["TN-003"].slots_total) == (True, 1)


def test_poles_import_csv_updates_existing_codes_and_says_so(pole_owner):
    factories.make_pole(pole_owner, code="TN-001", slots_total=1)
    report = run(pole_owner, HEADER + GOOD_ROWS)
    assert report.updated == ["TN-001"]
    assert report.created == ["TN-002", "TN-003"]
    assert UtilityPole.objects.get(owner=pole_owner, code="TN-001").slots_total == 2
    assert UtilityPole.objects.filter(owner=pole_owner).count() == 3


def test_poles_import_csv_with_two_bad_rows_reports_both_and_imports_nothing(pole_owner):
    text = (
        HEADER
        + "TN-001,-6.175305,106.826442,yes,no,2\n"
        + "TN-002,-6.914744,107.609810,yes,no,2\n"  # Bandung
        + "TN-003,-6.233805,106.855641,maybe,no,99\n"
    )
    report = run(pole_owner, text)
    assert not report.imported
    assert [(e.row, e.field) for e in report.errors] == [
        (3, "lat"),
        (4, "power_available"),
        (4, "slots_total"),
    ]
    assert "outside DKI Jakarta" in report.errors[0].reason
    assert not UtilityPole.objects.exists()


def test_poles_import_csv_rejects_duplicate_codes_within_the_file(pole_owner):
    report = run(pole_owner, HEADER + GOOD_ROWS + "TN-001,-6.175305,106.826442,no,no,1\n")
    assert [(e.row, e.field) for e in report.errors] == [(5, "code")]
    assert "row 2" in report.errors[0].reason
    assert not UtilityPole.objects.exists()


def test_poles_import_csv_refuses_a_wrong_header(pole_owner):
    with pytest.raises(ServiceError) as error:
        run(pole_owner, "kode,lat,lon\nTN-1,-6.1,106.8\n")
    assert error.value.field == "file"
    assert "code, lat, lon, power_available, fibre_available, slots_total" in error.value.message
    assert not UtilityPole.objects.exists()


def test_poles_import_csv_accepts_a_byte_order_mark(pole_owner):
    report = run(pole_owner, HEADER + GOOD_ROWS, bom=True)
    assert report.created == ["TN-001", "TN-002", "TN-003"]


def test_poles_import_csv_refuses_non_utf8_and_empty_files(pole_owner):
    utf16 = SimpleUploadedFile("poles.csv", (HEADER + GOOD_ROWS).encode("utf-16"))
    with pytest.raises(ServiceError, match="UTF-8"):
        services.poles_import_csv(owner=pole_owner, actor=pole_owner.created_by, file=utf16)
    with pytest.raises(ServiceError, match="no pole rows"):
        run(pole_owner, HEADER)


def test_poles_import_csv_limits_size_and_rows(pole_owner, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_ROWS", 2)
    with pytest.raises(ServiceError, match="too large"):
        run(pole_owner, HEADER + GOOD_ROWS)
    monkeypatch.setattr(csv_import, "MAX_FILE_BYTES", 50)
    with pytest.raises(ServiceError, match="too large"):
        run(pole_owner, HEADER + GOOD_ROWS)
    assert not UtilityPole.objects.exists()


def test_poles_import_csv_refuses_lowering_slots_below_used(pole_owner, approver):
    pole = factories.make_pole(pole_owner, code="TN-001", slots_total=2)
    site = factories.make_site(factories.make_partner(), pole=pole)
    services.site_approve(site=site, actor=approver)
    services.site_approve(site=factories.make_site(site.host_partner, pole=pole), actor=approver)
    report = run(pole_owner, HEADER + "TN-001,-6.175305,106.826442,yes,no,1\n")
    assert [(e.row, e.field) for e in report.errors] == [(2, "slots_total")]
    pole.refresh_from_db()
    assert pole.slots_total == 2


def test_poles_import_csv_refused_for_others(pole_owner, other_owner):
    with pytest.raises(PermissionDenied):
        services.poles_import_csv(
            owner=pole_owner, actor=other_owner, file=upload(HEADER + GOOD_ROWS)
        )
    assert not UtilityPole.objects.exists()
