"""Load the Jakarta area tree and kelurahan boundaries shipped in sites/data (idempotent)."""

import csv
import json
from pathlib import Path

from django.db import connection, transaction

from sites.models import Area, AreaBoundary

DATA_DIR = Path(__file__).resolve().parent / "data"


@transaction.atomic
def load_areas(data_dir: Path = DATA_DIR) -> tuple[int, int]:
    """Insert or update every area and replace the boundaries; rawan levels are kept."""
    with open(data_dir / "jakarta_areas.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_code = {a.code: a for a in Area.objects.all()}
    for row in rows:  # ordered province, cities, districts, villages: parents come first
        parent = by_code.get(row["parent_code"]) if row["parent_code"] else None
        values = {
            "level": row["level"],
            "name": row["name"],
            "parent": parent,
            "lat": row["lat"],
            "lon": row["lon"],
        }
        area = by_code.get(row["code"])
        if area is None:
            area = Area.objects.create(code=row["code"], **values)
        else:
            Area.objects.filter(pk=area.pk).update(**values)
        by_code[row["code"]] = area
    with open(data_dir / "jakarta_kelurahan.geojson", encoding="utf-8") as handle:
        features = json.load(handle)["features"]
    AreaBoundary.objects.all().delete()
    AreaBoundary.objects.bulk_create(
        AreaBoundary(area=by_code[f["properties"]["code"]], ring=[tuple(p) for p in polygon[0]])
        for f in features
        for polygon in f["geometry"]["coordinates"]
    )
    with connection.cursor() as cursor:
        # Fresh statistics let the planner use the GiST index on the rings.
        cursor.execute("ANALYZE sites_areaboundary")
    return len(rows), AreaBoundary.objects.count()
