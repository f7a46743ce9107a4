"""The monthly SLA evaluation: uptime per camera from daily roll-ups against the target."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from contracts import sla
from contracts.models import (
    Breach,
    BreachKind,
    ContractStatus,
    ContractStatusChange,
    Obligation,
    SlaEvaluation,
)
from contracts.tasks import evaluate_monthly_sla
from portal.errors import ServiceError
from sites.health.rollups import day_start
from sites.models import HealthRollup, Outage, RollupPeriod
from tests import factories

WIB = ZoneInfo("Asia/Jakarta")
NOVEMBER = date(2026, 11, 1)
DAY = 86_400


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def december():
    """The evaluation runs early in December for November."""
    with time_machine.travel(datetime(2026, 12, 1, 2, 0, tzinfo=WIB), tick=False) as traveller:
        yield traveller


@pytest.fixture
def host(owner):
    return factories.verified_partner(owner)


def rollup(camera, day: date, *, up=0, degraded=0, down=0, maintenance=0, unknown=0):
    return HealthRollup.objects.create(
        camera=camera,
        period=RollupPeriod.DAY,
        period_start=day_start(day),
        up_seconds=up,
        degraded_seconds=degraded,
        down_seconds=down,
        maintenance_seconds=maintenance,
        unknown_seconds=unknown,
    )


def at_availability(camera, percent: str, day: date = date(2026, 11, 10)) -> None:
    """One counted day at exactly `percent` availability (the rest of the month has no rows)."""
    up = int(DAY * Decimal(percent) / 100)
    rollup(camera, day, up=up, down=DAY - up)


def contract_for(host, sites, *, uptime=99, **kw):
    kw.setdefault("term_start", date(2026, 10, 1))
    return factories.make_contract(
        [(host, ["host", "maintainer"])], sites=sites, obligations={"uptime": uptime}, **kw
    )


def log(contract, old: str, new: str, when: datetime) -> None:
    ContractStatusChange.objects.create(
        contract=contract, old_status=old, new_status=new, created_at=when
    )


def test_sla_evaluate_month_breach_below_target_with_evidence(host):
    site = factories.make_active_site(host, cameras=2)
    good, bad = site.cameras.order_by("id")
    contract = contract_for(host, [site])
    at_availability(good, "99.5")
    at_availability(bad, "97")
    rollup(bad, date(2026, 11, 11), maintenance=3_600, unknown=1_800, up=DAY - 5_400)
    spanning = Outage.objects.create(
        camera=bad,
        started_at=datetime(2026, 10, 31, 22, 0, tzinfo=WIB),
        ended_at=datetime(2026, 11, 1, 1, 0, tzinfo=WIB),
    )
    still_open = Outage.objects.create(
        camera=bad, started_at=datetime(2026, 11, 30, 20, 0, tzinfo=WIB)
    )
    Outage.objects.create(  # over before the month began
        camera=bad,
        started_at=datetime(2026, 10, 20, 8, 0, tzinfo=WIB),
        ended_at=datetime(2026, 10, 20, 9, 0, tzinfo=WIB),
    )

    result = sla.sla_evaluate_month(month=NOVEMBER)

    assert result == {
        "month": "2026-11",
        "contracts": 1,
        "already_evaluated": 0,
        "cameras": 2,
        "no_data": 0,
        "breaches": 1,
    }
    breach = Breach.objects.get()
    obligation = Obligation.objects.get(contract=contract)
    counted = DAY + DAY - 5_400
    down = DAY - int(DAY * Decimal("0.97"))
    assert (breach.kind, breach.contract, breach.obligation, breach.camera) == (
        BreachKind.UPTIME_BELOW,
        contract,
        obligation,
        bad,
    )
    assert breach.responsible == obligation.responsible == host
    assert breach.period == NOVEMBER
    assert breach.target == Decimal("99.00")
    # (counted - down) / counted: the second day is all up once maintenance and unknown are out.
    assert breach.measured == Decimal("98.45")
    assert breach.detected_at == datetime(2026, 12, 1, 2, 0, tzinfo=WIB)
    assert breach.evidence == {
        "month": "2026-11",
        "from": "2026-11-01",
        "to": "2026-11-30",
        "counted_seconds": counted,
        "down_seconds": down,
        "maintenance_seconds": 3_600,
        "outages": [
            {
                "id": spanning.pk,
                "started_at": spanning.started_at.isoformat(),
                "ended_at": spanning.ended_at.isoformat(),
            },
            {
                "id": still_open.pk,
                "started_at": still_open.started_at.isoformat(),
                "ended_at": None,
            },
        ],
    }
    evaluation = SlaEvaluation.objects.get()
    assert (evaluation.contract, evaluation.month) == (contract, NOVEMBER)
    assert (evaluation.cameras, evaluation.cameras_below_target) == (2, 1)


def test_sla_evaluate_month_measured_is_97_00_for_a_97_percent_camera(host):
    site = factories.make_active_site(host, cameras=1)
    contract_for(host, [site])
    at_availability(site.cameras.get(), "97")

    sla.sla_evaluate_month(month=NOVEMBER)

    assert Breach.objects.get().measured == Decimal("97.00")


def test_sla_evaluate_month_995_against_99_is_no_breach(host):
    site = factories.make_active_site(host, cameras=1)
    contract_for(host, [site])
    at_availability(site.cameras.get(), "99.5")

    result = sla.sla_evaluate_month(month=NOVEMBER)

    assert result["breaches"] == 0
    assert not Breach.objects.exists()
    assert SlaEvaluation.objects.get().cameras_below_target == 0


def test_sla_evaluate_month_excludes_maintenance_time(host):
    site = factories.make_active_site(host, cameras=1)
    camera = site.cameras.get()
    contract_for(host, [site])
    # Half a day at 99 %, then a whole planned day: counted as down it would be far below.
    rollup(camera, date(2026, 11, 3), up=42_768, down=432, maintenance=43_200)
    rollup(camera, date(2026, 11, 4), maintenance=DAY)

    sla.sla_evaluate_month(month=NOVEMBER)

    assert not Breach.objects.exists()


def test_sla_evaluate_month_no_data_is_not_a_breach(host):
    site = factories.make_active_site(host, cameras=2)
    silent, planned = site.cameras.order_by("id")
    contract_for(host, [site])
    rollup(planned, date(2026, 11, 5), maintenance=DAY // 2, unknown=DAY // 2)

    result = sla.sla_evaluate_month(month=NOVEMBER)

    assert (result["cameras"], result["no_data"], result["breaches"]) == (2, 2, 0)
    assert not Breach.objects.exists()


def test_sla_evaluate_month_twice_creates_nothing_new(host):
    site = factories.make_active_site(host, cameras=2)
    contract_for(host, [site])
    for camera in site.cameras.all():
        at_availability(camera, "90")

    first = sla.sla_evaluate_month(month=NOVEMBER)
    second = sla.sla_evaluate_month(month=NOVEMBER)

    assert first["breaches"] == 2
    assert (second["contracts"], second["already_evaluated"], second["breaches"]) == (0, 1, 0)
    assert Breach.objects.count() == 2
    assert SlaEvaluation.objects.count() == 1


def test_sla_evaluate_month_existing_breach_row_is_kept_not_duplicated(host):
    """The unique constraint backs up the evaluation claim: an insert that meets an existing
    breach for the same obligation, camera and month is skipped, not an error."""
    site = factories.make_active_site(host, cameras=1)
    camera = site.cameras.get()
    contract = contract_for(host, [site])
    at_availability(camera, "90")
    Breach.objects.create(
        kind=BreachKind.UPTIME_BELOW,
        contract=contract,
        obligation=contract.obligations.get(),
        responsible=host,
        camera=camera,
        period=NOVEMBER,
        detected_at=datetime(2026, 12, 1, 1, 0, tzinfo=WIB),
        measured=Decimal("90.00"),
    )

    sla.sla_evaluate_month(month=NOVEMBER)

    assert Breach.objects.count() == 1


def test_sla_evaluate_month_skips_contracts_not_active_that_month(host):
    sites = [factories.make_active_site(host, cameras=1) for _ in range(4)]
    draft = contract_for(host, [sites[0]], status=ContractStatus.DRAFT)
    # Active only from 2 December (the status log says when).
    later = contract_for(host, [sites[1]], status=ContractStatus.ACTIVE)
    log(later, "signed", "active", datetime(2026, 12, 2, 9, 0, tzinfo=WIB))
    # Active in October, terminated before November began.
    ended = contract_for(host, [sites[2]], status=ContractStatus.TERMINATED)
    log(ended, "signed", "active", datetime(2026, 10, 1, 9, 0, tzinfo=WIB))
    log(ended, "active", "terminated", datetime(2026, 10, 25, 9, 0, tzinfo=WIB))
    # No status log: its term starts in December.
    future = contract_for(host, [sites[3]], term_start=date(2026, 12, 1))
    for site in sites:
        at_availability(site.cameras.get(), "50")

    result = sla.sla_evaluate_month(month=NOVEMBER)

    assert result["contracts"] == 0
    assert not Breach.objects.exists()
    assert not SlaEvaluation.objects.filter(contract__in=[draft, later, ended, future]).exists()


def test_sla_evaluate_month_counts_each_version_only_while_it_was_active(host):
    """An addendum took over on 16 November: the first half of the month belongs to version 1,
    the rest (from the changeover day) to version 2."""
    site = factories.make_active_site(host, cameras=1)
    camera = site.cameras.get()
    first = contract_for(host, [site], status=ContractStatus.SUPERSEDED, number="PKS/0042/X/2026")
    log(first, "signed", "active", datetime(2026, 10, 1, 9, 0, tzinfo=WIB))
    log(first, "active", "superseded", datetime(2026, 11, 16, 10, 0, tzinfo=WIB))
    second = contract_for(host, [site], number="PKS/0042/X/2026", version=2, amends=first)
    log(second, "signed", "active", datetime(2026, 11, 16, 10, 0, tzinfo=WIB))
    at_availability(camera, "80", date(2026, 11, 10))
    at_availability(camera, "100", date(2026, 11, 16))
    at_availability(camera, "100", date(2026, 11, 20))

    result = sla.sla_evaluate_month(month=NOVEMBER)

    assert (result["contracts"], result["breaches"]) == (2, 1)
    breach = Breach.objects.get()
    assert (breach.contract, breach.measured) == (first, Decimal("80.00"))
    assert (breach.evidence["from"], breach.evidence["to"]) == ("2026-11-01", "2026-11-15")
    assert SlaEvaluation.objects.get(contract=second).cameras_below_target == 0


def test_sla_evaluate_month_only_cameras_the_obligation_applies_to(host):
    named, other = (factories.make_active_site(host, cameras=1) for _ in range(2))
    contract = contract_for(host, [named, other])
    contract.obligations.get().sites.set([named])
    at_availability(named.cameras.get(), "98")
    at_availability(other.cameras.get(), "50")
    # A camera on a site the contract does not cover is none of its business.
    stranger = factories.make_active_site(host, cameras=1)
    at_availability(stranger.cameras.get(), "10")

    result = sla.sla_evaluate_month(month=NOVEMBER)

    assert result["cameras"] == 1
    assert list(Breach.objects.values_list("camera__site", flat=True)) == [named.pk]


def test_sla_evaluate_month_site_specific_target_wins_over_contract_wide(host):
    strict, lenient = (factories.make_active_site(host, cameras=1) for _ in range(2))
    contract = contract_for(host, [strict, lenient], uptime=95)
    specific = Obligation.objects.create(
        contract=contract, kind="uptime", value=Decimal("99.5"), responsible=host
    )
    specific.sites.set([strict])
    at_availability(strict.cameras.get(), "99")
    at_availability(lenient.cameras.get(), "96")

    sla.sla_evaluate_month(month=NOVEMBER)

    breach = Breach.objects.get()
    assert (breach.camera.site, breach.obligation, breach.target) == (
        strict,
        specific,
        Decimal("99.50"),
    )


def test_sla_evaluate_month_responsible_is_the_obligations_party(host):
    maintainer = factories.verified_partner()
    site = factories.make_active_site(host, cameras=1)
    factories.make_contract(
        [(host, ["host"]), (maintainer, ["maintainer"])],
        sites=[site],
        obligations={"uptime": 99},
        responsible=maintainer,
        term_start=date(2026, 10, 1),
    )
    at_availability(site.cameras.get(), "90")

    sla.sla_evaluate_month(month=NOVEMBER)

    assert Breach.objects.get().responsible == maintainer


def test_sla_evaluate_month_query_count_does_not_grow_with_cameras(host):
    def queries_for(cameras: int) -> int:
        site = factories.make_active_site(host, cameras=cameras)
        for camera in site.cameras.all():
            at_availability(camera, "90")
            Outage.objects.create(camera=camera, started_at=datetime(2026, 11, 3, tzinfo=WIB))
        contract = contract_for(host, [site], number=f"PKS/{cameras}/Q/2026")
        with CaptureQueriesContext(connection) as queries:
            assert sla.sla_evaluate_month(month=NOVEMBER)["breaches"] == cameras
        # Out of the way of the next round.
        SlaEvaluation.objects.all().delete()
        type(contract).objects.filter(pk=contract.pk).update(status=ContractStatus.DRAFT)
        return len(queries)

    assert queries_for(1) == queries_for(6)


def test_sla_evaluate_month_refuses_a_month_not_over(host, december):
    december.move_to(datetime(2026, 11, 30, 23, 0, tzinfo=WIB))
    with pytest.raises(ServiceError, match="not over"):
        sla.sla_evaluate_month(month=NOVEMBER)
    with pytest.raises(ServiceError, match="first day"):
        sla.sla_evaluate_month(month=date(2026, 10, 5))


def test_evaluate_monthly_sla_task_with_explicit_month(host):
    site = factories.make_active_site(host, cameras=1)
    contract_for(host, [site], term_start=date(2026, 9, 1))
    at_availability(site.cameras.get(), "90", date(2026, 10, 7))

    result = evaluate_monthly_sla.apply(args=["2026-10"]).get()

    assert (result["month"], result["breaches"]) == ("2026-10", 1)
    assert Breach.objects.get().period == date(2026, 10, 1)


def test_evaluate_monthly_sla_task_defaults_to_the_month_that_ended(host):
    site = factories.make_active_site(host, cameras=1)
    contract_for(host, [site])
    at_availability(site.cameras.get(), "90")

    assert evaluate_monthly_sla.apply().get()["month"] == "2026-11"
    assert evaluate_monthly_sla.apply().get()["breaches"] == 0  # a second delivery: nothing new
    assert Breach.objects.get().period == NOVEMBER
