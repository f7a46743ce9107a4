"""The demo's existing fleet: about 6,000 active cameras over Jakarta, as the city had in 2018.

A bulk loader like sites.loaders, not a business operation: it writes rows directly (seeded, so
every run builds the same fleet) and only when the demo partners have no cameras yet.

The cameras answer for real: demo camera i (counted over the whole fleet, in FLEET order, then
site, then slot) has the address sites.health.simulator.camera_address(i), where the fleet
simulator that `make run` starts (`manage.py simulate_fleet`) plays it, on the ports the launcher
gives the simulator (portal.launcher.simulator_ports).
"""

import random
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from partners.models import CameraNetwork, CameraNetworkStatusChange, NetworkStatus, Partner
from portal.launcher import simulator_ports
from sites.health.simulator import camera_address
from sites.models import (
    AreaBoundary,
    Camera,
    HostKind,
    Site,
    SiteStatus,
    SiteStatusChange,
    UtilityPole,
)

CAMERAS_PER_SITE = 2

# (partner name, host kind, sites, second octet of its approved /16 camera network)
FLEET = [
    ("PT Toko Sejahtera Abadi", HostKind.BUILDING, 1250, 71),
    ("PT Tiang Nusantara Jaya", HostKind.POLE, 1250, 74),
    ("RW 05 Kembangan Utara", HostKind.COMMUNITY_POST, 500, 73),
]
SPARE_POLES = 250  # poles with every slot free, for new applications
DEMO_CAMERAS = sum(sites for _name, _kind, sites, _octet in FLEET) * CAMERAS_PER_SITE
# Every simulated camera address (camera_address(i) for i < 64,516) lies in this network.
SIMULATOR_CIDR = "127.1.0.0/16"

_VENDORS = [
    ("Hikvision", "DS-2CD2143G2-I", "2688x1520"),
    ("Dahua", "IPC-HFW2431S", "2688x1520"),
    ("Axis", "P1455-LE", "1920x1080"),
    ("Uniview", "IPC2122LB", "1920x1080"),
]


def _inside(lon: float, lat: float, ring: list[tuple[float, float]]) -> bool:
    """Ray casting: is the point inside the polygon ring?"""
    inside = False
    j = len(ring) - 1
    for i, (xi, yi) in enumerate(ring):
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _random_point(rng: random.Random, boundary: AreaBoundary) -> tuple[float, float]:
    ring = boundary.ring
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    for _attempt in range(200):
        lon = rng.uniform(min(lons), max(lons))
        lat = rng.uniform(min(lats), max(lats))
        if _inside(lon, lat, ring):
            return round(lat, 6), round(lon, 6)
    return round(sum(lats) / len(lats), 6), round(sum(lons) / len(lons), 6)


def _mainland_boundaries() -> list[AreaBoundary]:
    # Kepulauan Seribu (31.01) is islands in the sea: the baseline fleet is on the mainland.
    return list(
        AreaBoundary.objects.exclude(area__code__startswith="31.01.").order_by("area__code", "id")
    )


def _random_spots(rng: random.Random, boundaries: list[AreaBoundary], count: int):
    """`count` random points, each with the kelurahan whose boundary it was drawn inside."""
    chosen = [rng.choice(boundaries) for _ in range(count)]
    return [_random_point(rng, b) for b in chosen], [b.area_id for b in chosen]


# Simplified boundaries overlap slightly (and PostgreSQL's geometry compares with a tolerance),
# so let the database settle each point's kelurahan exactly as sites.selectors.kelurahan_at does.
_SETTLE_KELURAHAN = """
UPDATE {table} AS t SET kelurahan_id = (
    SELECT b.area_id FROM sites_areaboundary b
    WHERE b.ring && polygon(box(point(t.lon, t.lat), point(t.lon, t.lat)))
      AND b.ring @> point(t.lon, t.lat)
    ORDER BY b.area_id LIMIT 1)
WHERE t.{owner} = ANY(%s)
"""


def _settle_kelurahan(partner_ids: list[int]) -> None:
    with connection.cursor() as cursor:
        for table, owner in (("sites_site", "host_partner_id"), ("sites_utilitypole", "owner_id")):
            cursor.execute(_SETTLE_KELURAHAN.format(table=table, owner=owner), [partner_ids])


@transaction.atomic
def seed_fleet(*, actor, seed: int = 2018) -> int:
    """Create the baseline fleet if the demo partners have no cameras; return cameras created."""
    partners = {p.name: p for p in Partner.objects.filter(name__in=[f[0] for f in FLEET])}
    if len(partners) < len(FLEET):
        return 0
    if Camera.objects.filter(owner__in=partners.values()).exists():
        _point_at_simulator([partners[name] for name, *_rest in FLEET], actor=actor)
        return 0
    rng = random.Random(seed)
    boundaries = _mainland_boundaries()
    installed = timezone.now() - timedelta(days=8 * 365)
    created = 0
    for name, host_kind, site_count, octet in FLEET:
        partner = partners[name]
        spots, areas = _random_spots(rng, boundaries, site_count)
        poles: list[UtilityPole | None] = [None] * site_count
        if host_kind == HostKind.POLE:
            poles = UtilityPole.objects.bulk_create(
                UtilityPole(
                    owner=partner,
                    code=f"TNJ-{index:05d}",
                    lat=lat,
                    lon=lon,
                    kelurahan_id=area,
                    power_available=True,
                    fibre_available=index % 3 != 0,
                    slots_total=3,
                    slots_used=1,
                )
                for index, ((lat, lon), area) in enumerate(zip(spots, areas, strict=True), 1)
            )
            spare, spare_areas = _random_spots(rng, boundaries, SPARE_POLES)
            UtilityPole.objects.bulk_create(
                UtilityPole(
                    owner=partner,
                    code=f"TNJ-S{index:04d}",
                    lat=lat,
                    lon=lon,
                    kelurahan_id=area,
                    power_available=True,
                    fibre_available=True,
                    slots_total=2,
                    slots_used=0,
                )
                for index, ((lat, lon), area) in enumerate(zip(spare, spare_areas, strict=True), 1)
            )
        sites = Site.objects.bulk_create(
            Site(
                lat=lat,
                lon=lon,
                kelurahan_id=area,
                host_partner=partner,
                host_kind=host_kind,
                pole=pole,
                address=f"Titik {index} {name}",
                status=SiteStatus.ACTIVE,
                status_changed_at=installed,
                holds_pole_slot=pole is not None,
                viewing_direction=rng.randrange(0, 360, 15),
                created_by=actor,
            )
            for index, ((lat, lon), area, pole) in enumerate(
                zip(spots, areas, poles, strict=True), 1
            )
        )
        SiteStatusChange.objects.bulk_create(
            SiteStatusChange(
                site=site,
                actor=actor,
                old_status="",
                new_status=SiteStatus.ACTIVE,
                reason="Demo: camera in the 2018 baseline fleet",
                created_at=installed,
            )
            for site in sites
        )
        cameras = []
        for index, site in enumerate(sites):
            for slot in range(CAMERAS_PER_SITE):
                number = index * CAMERAS_PER_SITE + slot
                vendor, model, resolution = _VENDORS[number % len(_VENDORS)]
                cameras.append(
                    Camera(
                        site=site,
                        owner=partner,
                        vendor=vendor,
                        model=model,
                        serial=f"DEMO-{octet}-{number:06d}",
                        resolution=resolution,
                        installed_at=installed,
                        created_by=actor,
                        **simulated_urls(created + len(cameras)),
                    )
                )
        Camera.objects.bulk_create(cameras, batch_size=2000)
        created += len(cameras)
        _approve_simulator_network(partner, actor=actor)
    _settle_kelurahan([p.pk for p in partners.values()])
    return created


def simulated_urls(index: int) -> dict[str, str]:
    """The RTSP, snapshot and ONVIF URLs of demo camera `index`, as the simulator serves them."""
    address = camera_address(index)
    http_port, rtsp_port = simulator_ports()
    return {
        "rtsp_url": f"rtsp://{address}:{rtsp_port}/stream1",
        "snapshot_url": f"http://{address}:{http_port}/snapshot.jpg",
        "onvif_url": f"http://{address}:{http_port}/onvif/device_service",
    }


def _point_at_simulator(partners: list[Partner], *, actor) -> None:
    """A demo database seeded before the simulator existed: move its cameras onto it, once."""
    cameras = [
        camera
        for partner in partners
        for camera in Camera.objects.filter(owner=partner, serial__startswith="DEMO-").order_by(
            "id"
        )
    ]
    if not cameras or cameras[0].rtsp_url == simulated_urls(0)["rtsp_url"]:
        return
    for index, camera in enumerate(cameras):
        for name, url in simulated_urls(index).items():
            setattr(camera, name, url)
    Camera.objects.bulk_update(cameras, ["rtsp_url", "snapshot_url", "onvif_url"], batch_size=1000)
    for partner in partners:
        _approve_simulator_network(partner, actor=actor)


def _approve_simulator_network(partner: Partner, *, actor) -> None:
    """Approve the simulator's loopback network for a demo partner, directly.

    partners.services.network_request refuses loopback by design: a real partner must never get
    the portal's own host on its allowlist. The demo may, because the health checker's address
    policy still refuses loopback unless HEALTH_ALLOW_LOOPBACK is on, and only `make run` turns it
    on (for the worker and beat it starts next to the simulator).
    """
    ports = list(simulator_ports())
    existing = partner.networks.filter(cidr=SIMULATOR_CIDR)
    if existing.exists():
        # Other SIMULATOR_*_PORT values than last time: the cameras moved, so does the allowlist.
        existing.exclude(ports=ports).update(ports=ports)
        return
    now = timezone.now()
    network = CameraNetwork.objects.create(
        partner=partner,
        cidr=SIMULATOR_CIDR,
        ports=ports,
        description="Demo: the fleet simulator (make run)",
        status=NetworkStatus.APPROVED,
        requested_by=actor,
        decided_at=now,
    )
    CameraNetworkStatusChange.objects.create(
        network=network,
        actor=actor,
        old_status="",
        new_status=NetworkStatus.APPROVED,
        reason="Demo: loopback network of the fleet simulator",
        created_at=now,
    )
