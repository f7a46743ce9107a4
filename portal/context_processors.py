from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse

from portal.roles import is_officer, is_operator


def roles(request):
    """Role flags for navigation; computed lazily so anonymous pages cost no query."""
    user = request.user
    return {
        "is_officer": lambda: is_officer(user),
        "is_operator": lambda: is_operator(user),
    }


def map_config(request):
    """What static/js/map-pin.js needs: Leaflet's files, the tile server and the lookup URL."""
    return {
        "map_config": {
            "leafletJs": static("vendor/leaflet/leaflet.js"),
            "leafletCss": static("vendor/leaflet/leaflet.css"),
            "tileUrl": settings.MAP_TILE_URL,
            "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
            "locateUrl": reverse("area-locate") if request.user.is_authenticated else "",
            "center": [-6.2, 106.85],
        }
    }
