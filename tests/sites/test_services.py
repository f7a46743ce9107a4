import pytest
from django.utils import timezone, translation

from partners.models import MemberRole
from portal.errors import PermissionDenied, ServiceError
from sites.models import Area, RawanLevelChange
from sites.services import area_set_rawan
from tests import factories

# A kelurahan of Jakarta Pusat (kota 31.71), and one of its kecamatan.
KELURAHAN = "31.71.01.1001"
KECAMATAN = "31.71.01"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def kelurahan(db) -> Area:
    return Area.objects.get(code=KELURAHAN)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_area_set_rawan_records_who_when_and_why(kelurahan, approver, level):
    before = timezone.now()
    area_set_rawan(area=kelurahan, actor=approver, level=level, reason=" Laporan Polsek 2026 ")
    kelurahan.refresh_from_db()
    assert kelurahan.rawan_level == level
    assert kelurahan.rawan_set_by == approver
    assert kelurahan.rawan_set_at >= before
    change = RawanLevelChange.objects.get(area=kelurahan)
    assert (change.actor, change.old_status, change.new_status, change.reason) == (
        approver,
        "0",
        str(level),
        "Laporan Polsek 2026",
    )


def test_area_set_rawan_keeps_history_of_each_change(kelurahan, approver):
    area_set_rawan(area=kelurahan, actor=approver, level=2, reason="first")
    area_set_rawan(area=kelurahan, actor=approver, level=3, reason="second")
    assert list(
        RawanLevelChange.objects.filter(area=kelurahan).values_list("old_status", "new_status")
    ) == [("0", "2"), ("2", "3")]


@pytest.mark.parametrize(("level", "field"), [(4, "rawan_level"), (-1, "rawan_level")])
def test_area_set_rawan_refuses_level_out_of_range(kelurahan, approver, level, field):
    with pytest.raises(ServiceError) as error:
        area_set_rawan(area=kelurahan, actor=approver, level=level, reason="too high")
    assert error.value.field == field
    kelurahan.refresh_from_db()
    assert kelurahan.rawan_level == 0
    assert not RawanLevelChange.objects.exists()


def test_area_set_rawan_refuses_kecamatan(approver):
    kecamatan = Area.objects.get(code=KECAMATAN)
    with pytest.raises(ServiceError, match="per kelurahan"):
        area_set_rawan(area=kecamatan, actor=approver, level=2, reason="whole district")
    kecamatan.refresh_from_db()
    assert kecamatan.rawan_level == 0


def test_area_set_rawan_requires_reason(kelurahan, approver):
    with pytest.raises(ServiceError) as error:
        area_set_rawan(area=kelurahan, actor=approver, level=2, reason="  ")
    assert error.value.field == "reason"
    assert not RawanLevelChange.objects.exists()


def test_area_set_rawan_refused_for_partner_member(kelurahan, partner, owner):
    assert owner.memberships.get().role == MemberRole.OWNER
    with pytest.raises(PermissionDenied):
        area_set_rawan(area=kelurahan, actor=owner, level=3, reason="we think so")
    kelurahan.refresh_from_db()
    assert kelurahan.rawan_level == 0


def test_area_set_rawan_sudin_officer_only_in_own_kota(kelurahan):
    with pytest.raises(PermissionDenied):
        area_set_rawan(
            area=kelurahan, actor=factories.sudin_officer("31.72"), level=3, reason="not my kota"
        )
    pusat = factories.sudin_officer("31.71")
    area_set_rawan(area=kelurahan, actor=pusat, level=3, reason="Laporan Sudin")
    kelurahan.refresh_from_db()
    assert (kelurahan.rawan_level, kelurahan.rawan_set_by) == (3, pusat)
