"""Pages load their scripts and styles from the portal itself, never from a CDN."""

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

BASE_DIR = Path(__file__).resolve().parents[2]
CDN_HOSTS = re.compile(r"cdn|unpkg\.com|jsdelivr|googleapis|cloudflare|bootstrapcdn", re.I)


def test_templates_and_scripts_reference_no_cdn():
    offenders = []
    for path in [*BASE_DIR.glob("templates/**/*.html"), *BASE_DIR.glob("static/js/*.js")]:
        for line_number, line in enumerate(path.read_text().splitlines(), 1):
            loads_something = "<script" in line or "<link" in line or "src=" in line
            if loads_something and CDN_HOSTS.search(line):
                offenders.append(f"{path.relative_to(BASE_DIR)}:{line_number}")
    assert offenders == []


@pytest.mark.django_db
def test_map_config_points_at_the_vendored_leaflet(client, django_user_model):
    user = django_user_model.objects.create_user("mapper", "mapper@example.test", "x")
    client.force_login(user)
    page = client.get("/").content.decode()
    config = json.loads(re.search(r'id="map-config"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert config["leafletJs"].startswith("/static/vendor/leaflet/")
    assert finders.find("vendor/leaflet/leaflet.js")
    assert finders.find("vendor/leaflet/leaflet.css")
    assert config["locateUrl"] == "/api/areas/locate/"
    assert "{z}" in config["tileUrl"]
