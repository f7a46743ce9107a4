"""Reads for the public pages: progress to the camera target, and what a kelurahan has.

Everything here is public and aggregated. Nothing returns a person: residents' requests are
counted, never listed; partners are named by their organisation name only (no contact person,
no address). Each function runs a fixed number of queries, whatever the size of the fleet.

A camera counts as *active* when its site is active: installed, handed over and in service.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import ContractParty, ContractSite, ContractStatus, ShareKind
from partners.models import Partner
from sites.models import (
    OPEN_REQUEST_STATUSES,
    Area,
    AreaLevel,
    Camera,
    CoverageRequest,
    HealthRollup,
    HostKind,
    RequestCategory,
    RequestStatus,
    RollupPeriod,
    Site,
    SiteStatus,
)

# The city's goal: from about 6,000 cameras to 60,000 (see DESIGN.md, "The problem").
CAMERA_TARGET = 60_000
AVAILABILITY_DAYS = 30
REQUEST_MONTHS = 12
NOT_UNDER_CONTRACT = "none"
INSTALLED_REQUEST_STATUSES = (RequestStatus.INSTALLED, RequestStatus.CONFIRMED)
# Requests the public counts: verified, and not a duplicate folded into another one.
NOT_COUNTED_REQUEST_STATUSES = (RequestStatus.UNVERIFIED, RequestStatus.MERGED)

_KOTA = "site__kelurahan__parent__parent"


def active_cameras() -> QuerySet[Camera]:
    return Camera.objects.filter(site__status=SiteStatus.ACTIVE)


def _counted_requests() -> QuerySet[CoverageRequest]:
    return CoverageRequest.objects.exclude(status__in=NOT_COUNTED_REQUEST_STATUSES)


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


# --- Landing page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KotaProgress:
    """One kota's active cameras, their share of the target, and its open requests."""

    code: str
    name: str
    cameras: int
    percent_of_target: float
    open_requests: int

    @property
    def short_name(self) -> str:
        """ "Jakarta Pusat" for "Kota Administrasi Jakarta Pusat": fits a phone's table."""
        for prefix in ("Kota Administrasi ", "Kabupaten Administrasi "):
            if self.name.startswith(prefix):
                return self.name.removeprefix(prefix)
        return self.name


@dataclass(frozen=True)
class Progress:
    """Active cameras against the target, overall and per kota, and requests per month."""

    cameras: int
    target: int
    kotas: list[KotaProgress]
    open_requests: int
    installed_requests: int
    requests_per_month: list[tuple[date, int]] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return _percent(self.cameras, self.target)

    @property
    def remaining(self) -> int:
        return max(self.target - self.cameras, 0)

    @property
    def largest_kota(self) -> int:
        """The scale of the per-kota bars (at least 1, so an empty city still draws)."""
        return max((kota.cameras for kota in self.kotas), default=0) or 1


def _month_starts(today: date, months: int) -> list[date]:
    first = today.replace(day=1)
    starts = []
    for _month in range(months):
        starts.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return list(reversed(starts))


def requests_per_month(*, months: int = REQUEST_MONTHS) -> list[tuple[date, int]]:
    """Verified requests filed per calendar month (Asia/Jakarta), oldest first, this month last."""
    starts = _month_starts(timezone.localdate(), months)
    since = timezone.make_aware(datetime.combine(starts[0], datetime.min.time()))
    rows = (
        CoverageRequest.objects.exclude(status=RequestStatus.UNVERIFIED)
        .filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts = {timezone.localtime(row["month"]).date(): row["count"] for row in rows}
    return [(start, counts.get(start, 0)) for start in starts]


def landing_progress() -> Progress:
    """Four queries: kota list, cameras per kota, requests per kota, requests per month."""
    kotas = list(Area.objects.filter(level=AreaLevel.CITY).order_by("code").values("code", "name"))
    cameras = dict(
        active_cameras().values_list(f"{_KOTA}__code").annotate(count=Count("id")).order_by()
    )
    requests = {
        row["kota"]: row
        for row in _counted_requests()
        .values(kota=F("kelurahan__parent__parent__code"))
        .annotate(
            open=Count("id", filter=Q(status__in=OPEN_REQUEST_STATUSES)),
            installed=Count("id", filter=Q(status__in=INSTALLED_REQUEST_STATUSES)),
        )
        .order_by()
    }
    total = sum(cameras.values())
    return Progress(
        cameras=total,
        target=CAMERA_TARGET,
        kotas=[
            KotaProgress(
                code=kota["code"],
                name=kota["name"],
                cameras=cameras.get(kota["code"], 0),
                percent_of_target=_percent(cameras.get(kota["code"], 0), CAMERA_TARGET),
                open_requests=requests.get(kota["code"], {}).get("open", 0),
            )
            for kota in kotas
        ],
        open_requests=sum(row["open"] for row in requests.values()),
        installed_requests=sum(row["installed"] for row in requests.values()),
        requests_per_month=requests_per_month(),
    )


# --- Kelurahan index ---------------------------------------------------------------------------


def _count_subquery(queryset: QuerySet, path: str) -> Coalesce:
    counted = queryset.filter(**{path: OuterRef("pk")}).order_by().values(path)
    return Coalesce(
        Subquery(counted.annotate(count=Count("id")).values("count"), output_field=IntegerField()),
        0,
    )


def kelurahan_index(*, query: str = "", kota: str = "") -> QuerySet[Area]:
    """Every kelurahan with its active cameras and open requests; `query` matches the name or
    code of the kelurahan, its kecamatan or its kota, `kota` is a kota's code. One query."""
    villages = Area.objects.filter(level=AreaLevel.VILLAGE).select_related("parent__parent")
    if query := query.strip():
        villages = villages.filter(
            Q(name__icontains=query)
            | Q(code__startswith=query)
            | Q(parent__name__icontains=query)
            | Q(parent__parent__name__icontains=query)
        )
    if kota:
        villages = villages.filter(parent__parent__code=kota)
    open_requests = _counted_requests().filter(status__in=OPEN_REQUEST_STATUSES)
    return villages.annotate(
        cameras=_count_subquery(active_cameras(), "site__kelurahan"),
        open_requests=_count_subquery(open_requests, "kelurahan"),
    ).order_by("code")


def kota_choices() -> list[tuple[str, str]]:
    return list(
        Area.objects.filter(level=AreaLevel.CITY).order_by("code").values_list("code", "name")
    )


# --- Kelurahan transparency page ---------------------------------------------------------------


@dataclass(frozen=True)
class CategoryCount:
    code: str
    label: str
    open: int
    installed: int


@dataclass
class KelurahanReport:
    """What the public may know about one kelurahan's cameras, requests and partners."""

    area: Area
    cameras: int
    # (kind, label, cameras) in the order of the choices; every kind, zeros included.
    by_host_kind: list[tuple[str, str, int]]
    # (kind, label, cameras): a co-funded camera counts under each kind that pays for it, so
    # these may add up to more than `cameras`; NOT_UNDER_CONTRACT is last.
    by_funder_kind: list[tuple[str, str, int]]
    # Share of the counted time (up + degraded) / (up + degraded + down); None without data.
    availability: float | None
    availability_days: list[tuple[date, float | None]]
    requests_by_category: list[CategoryCount]
    partners: list[str]

    @property
    def open_requests(self) -> int:
        return sum(row.open for row in self.requests_by_category)

    @property
    def installed_requests(self) -> int:
        return sum(row.installed for row in self.requests_by_category)


def _camera_kinds(area: Area) -> tuple[int, list, list]:
    """Active cameras by host kind and by funder kind (two queries, grouped per site)."""
    per_site = list(
        active_cameras()
        .filter(site__kelurahan=area)
        .values_list("site_id", "site__host_kind")
        .annotate(count=Count("id"))
        .order_by()
    )
    funding: dict[int, set[str]] = {}
    for site_id, kind in (
        ContractSite.objects.filter(
            in_force=True,
            contract__status=ContractStatus.ACTIVE,
            site__kelurahan=area,
            site__status=SiteStatus.ACTIVE,
        )
        .values_list("site_id", "contract__shares__kind")
        .order_by()
    ):
        funding.setdefault(site_id, set())
        if kind:
            funding[site_id].add(kind)

    host = dict.fromkeys(HostKind.values, 0)
    funder = dict.fromkeys([*ShareKind.values, NOT_UNDER_CONTRACT], 0)
    for site_id, host_kind, count in per_site:
        host[host_kind] = host.get(host_kind, 0) + count
        kinds = funding.get(site_id)
        if kinds is None:
            funder[NOT_UNDER_CONTRACT] += count
        for kind in kinds or ():
            funder[kind] += count
    labels = dict(ShareKind.choices)
    labels[NOT_UNDER_CONTRACT] = _("Not under contract")
    host_labels = dict(HostKind.choices)
    return (
        sum(count for _site, _kind, count in per_site),
        [(kind, host_labels.get(kind, kind), count) for kind, count in host.items()],
        [(kind, labels[kind], count) for kind, count in funder.items()],
    )


def _availability(area: Area, today: date) -> tuple[float | None, list]:
    """Daily availability of the kelurahan's cameras over the last complete days (one query)."""
    days = [today - timedelta(days=offset) for offset in range(AVAILABILITY_DAYS, 0, -1)]
    since = timezone.make_aware(datetime.combine(days[0], datetime.min.time()))
    until = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    rows = (
        HealthRollup.objects.filter(
            period=RollupPeriod.DAY,
            camera__site__kelurahan=area,
            period_start__gte=since,
            period_start__lt=until,
        )
        .values("period_start")
        .annotate(
            ok=Sum("up_seconds") + Sum("degraded_seconds"),
            down=Sum("down_seconds"),
        )
        .order_by()
    )
    per_day = {timezone.localdate(row["period_start"]): (row["ok"], row["down"]) for row in rows}
    ok = sum(pair[0] for pair in per_day.values())
    counted = ok + sum(pair[1] for pair in per_day.values())
    series = []
    for day in days:
        day_ok, day_down = per_day.get(day, (0, 0))
        series.append((day, _percent(day_ok, day_ok + day_down) if day_ok + day_down else None))
    return (_percent(ok, counted) if counted else None), series


def _requests_by_category(area: Area) -> list[CategoryCount]:
    rows = {
        row["category"]: row
        for row in _counted_requests()
        .filter(kelurahan=area)
        .values("category")
        .annotate(
            open=Count("id", filter=Q(status__in=OPEN_REQUEST_STATUSES)),
            installed=Count("id", filter=Q(status__in=INSTALLED_REQUEST_STATUSES)),
        )
        .order_by()
    }
    return [
        CategoryCount(
            code=code,
            label=label,
            open=rows.get(code, {}).get("open", 0),
            installed=rows.get(code, {}).get("installed", 0),
        )
        for code, label in RequestCategory.choices
    ]


def _partners(area: Area) -> list[str]:
    """Organisations that host, own or are party to the contract of an active camera here."""
    sites = Site.objects.filter(kelurahan=area, status=SiteStatus.ACTIVE)
    in_force = ContractSite.objects.filter(
        in_force=True, contract__status=ContractStatus.ACTIVE, site__in=sites
    )
    return list(
        Partner.objects.filter(
            Q(pk__in=sites.values("host_partner"))
            | Q(pk__in=Camera.objects.filter(site__in=sites).values("owner"))
            | Q(
                pk__in=ContractParty.objects.filter(contract__covered_sites__in=in_force).values(
                    "partner"
                )
            )
        )
        .order_by("name")
        .values_list("name", flat=True)
    )


def kelurahan_report(*, code: str, today: date | None = None) -> KelurahanReport:
    """The transparency page's figures for the kelurahan `code`; 404 for an unknown code.
    Six queries, whatever the number of cameras, requests or partners."""
    area = (
        Area.objects.filter(level=AreaLevel.VILLAGE, code=code)
        .select_related("parent__parent")
        .first()
    )
    if area is None:
        raise Http404
    cameras, by_host, by_funder = _camera_kinds(area)
    availability, days = _availability(area, today or timezone.localdate())
    return KelurahanReport(
        area=area,
        cameras=cameras,
        by_host_kind=by_host,
        by_funder_kind=by_funder,
        availability=availability,
        availability_days=days,
        requests_by_category=_requests_by_category(area),
        partners=_partners(area),
    )
