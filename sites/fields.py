"""PostgreSQL's built-in polygon type, so point-in-polygon runs in the database without PostGIS."""

from django.db import models


class PolygonField(models.Field):
    """A one-ring polygon (no holes) as PostgreSQL `polygon`; in Python a list of (lon, lat)."""

    description = "PostgreSQL polygon"

    def db_type(self, connection) -> str:
        return "polygon"

    def from_db_value(self, value, expression, connection):
        return None if value is None else self.to_python(value)

    def to_python(self, value):
        if value is None or isinstance(value, list):
            return value
        numbers = [
            float(n) for n in value.replace("(", " ").replace(")", " ").replace(",", " ").split()
        ]
        return list(zip(numbers[0::2], numbers[1::2], strict=True))

    def get_prep_value(self, value):
        if value is None or isinstance(value, str):
            return value
        return "(" + ",".join(f"({x:.6f},{y:.6f})" for x, y in value) + ")"
