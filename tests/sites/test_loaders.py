import pytest

from sites.loaders import load_areas
from sites.models import Area, AreaBoundary, AreaLevel
from sites.selectors import kelurahan_at
from sites.services import area_set_rawan


@pytest.mark.django_db
def test_load_areas_is_idempotent_and_keeps_rawan_levels(approver):
    # The session already loaded the areas once; load twice more around a rawan decision.
    assert load_areas() == (318, 384)
    kelurahan = Area.objects.get(code="31.71.01.1001")
    area_set_rawan(area=kelurahan, actor=approver, level=3, reason="Laporan Polsek")
    assert load_areas() == (318, 384)
    assert Area.objects.count() == 318
    assert AreaBoundary.objects.count() == 384
    assert Area.objects.filter(level=AreaLevel.VILLAGE).count() == 267
    kelurahan.refresh_from_db()
    assert (kelurahan.rawan_level, kelurahan.rawan_set_by) == (3, approver)
    # The replaced boundaries still answer for the kelurahan's own label point.
    assert kelurahan_at(lat=kelurahan.lat, lon=kelurahan.lon) == kelurahan
