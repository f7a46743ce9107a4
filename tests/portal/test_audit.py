"""The status-change tables are append-only in the database itself, not just in the code."""

import pytest
from django.db import transaction
from django.db.utils import ProgrammingError

from partners import services as partner_services
from partners.models import CameraNetworkStatusChange, PartnerStatusChange
from sites.models import Area, RawanLevelChange
from sites.services import area_set_rawan


@pytest.fixture
def partner_change(partner, approver) -> PartnerStatusChange:
    partner_services.partner_verify(partner=partner, actor=approver, reason="Documents match.")
    return PartnerStatusChange.objects.get(partner=partner)


@pytest.fixture
def rawan_change(approver) -> RawanLevelChange:
    area = Area.objects.get(code="31.71.01.1001")
    area_set_rawan(area=area, actor=approver, level=2, reason="Laporan Polsek")
    return RawanLevelChange.objects.get(area=area)


@pytest.fixture
def network_change(partner, owner) -> CameraNetworkStatusChange:
    network = partner_services.network_request(
        partner=partner, actor=owner, cidr="10.9.0.0/24", ports=[554]
    )
    return network.status_changes.get()


def _snapshot(row) -> tuple:
    fresh = type(row).objects.get(pk=row.pk)
    return fresh.actor_id, fresh.old_status, fresh.new_status, fresh.reason, fresh.created_at


# The trigger raises SQLSTATE 42501 (insufficient_privilege): psycopg and Django map it to
# ProgrammingError. The explicit django_db mark keeps these tests among the plain database tests:
# their fixtures are looked up by name at run time, which test ordering cannot see.
@pytest.mark.django_db
@pytest.mark.parametrize("change", ["partner_change", "rawan_change", "network_change"])
def test_status_change_update_refused_by_database(request, change):
    row = request.getfixturevalue(change)
    before = _snapshot(row)
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        type(row).objects.filter(pk=row.pk).update(new_status="rejected", reason="rewritten")
    row.reason = "rewritten"
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        row.save()
    assert _snapshot(row) == before


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["partner_change", "rawan_change", "network_change"])
def test_status_change_delete_refused_by_database(request, change):
    row = request.getfixturevalue(change)
    before = _snapshot(row)
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        type(row).objects.filter(pk=row.pk).delete()
    assert _snapshot(row) == before
