import csv

import pytest

from portal.errors import ServiceError
from sites.loaders import DATA_DIR
from sites.models import AreaLevel
from sites.selectors import OutsideJakarta, kelurahan_at


def _kelurahan_rows() -> list[dict[str, str]]:
    with open(DATA_DIR / "jakarta_areas.csv", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["level"] == AreaLevel.VILLAGE]


@pytest.mark.django_db
def test_kelurahan_at_maps_every_label_point_to_its_own_kelurahan():
    rows = _kelurahan_rows()
    assert len(rows) == 267
    wrong = {}
    for row in rows:
        found = kelurahan_at(lat=row["lat"], lon=row["lon"])
        if found.code != row["code"]:
            wrong[row["code"]] = found.code
    assert wrong == {}


@pytest.mark.django_db
def test_kelurahan_at_returns_the_tree_up_to_the_kota():
    area = kelurahan_at(lat="-6.182041", lon="106.863745")  # Jakarta Pusat's label point
    assert area.level == AreaLevel.VILLAGE
    assert area.parent.parent.code == "31.71"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        pytest.param(-6.9, 107.6, id="bandung"),
        pytest.param(-5.0, 106.8, id="java-sea"),
        pytest.param(-6.178, 106.63, id="tangerang"),
    ],
)
def test_kelurahan_at_outside_jakarta_names_the_coordinates(lat, lon):
    with pytest.raises(OutsideJakarta) as error:
        kelurahan_at(lat=lat, lon=lon)
    assert f"{lat:.5f}" in error.value.message
    assert f"{lon:.5f}" in error.value.message
    assert error.value.code == "outside_jakarta"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [
        ("abc", 106.8, "lat"),
        ("", 106.8, "lat"),
        (None, 106.8, "lat"),
        (-6.2, "1e999", "lon"),
        ("nan", 106.8, "lat"),
        (-91, 106.8, "lat"),
    ],
)
def test_kelurahan_at_refuses_bad_coordinates(lat, lon, field):
    with pytest.raises(ServiceError) as error:
        kelurahan_at(lat=lat, lon=lon)
    assert not isinstance(error.value, OutsideJakarta)
    assert error.value.field == field
