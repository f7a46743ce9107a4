"""The monthly SLA evaluation: uptime per camera against the contract's target, as breaches.

Which versions count and how availability is measured is described in contracts.sla_selectors.
Each contract version is evaluated once per month: the SlaEvaluation row (unique per contract
and month) is claimed first in the same transaction as the breaches, so a rerun, a duplicate
task delivery or a second worker finds it and writes nothing; the Breach unique constraint
(obligation, camera, month) backs that up with ON CONFLICT DO NOTHING.
"""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import Breach, BreachKind, Contract, SlaEvaluation
from contracts.sla_selectors import (
    ActiveWindow,
    CameraSla,
    camera_months,
    contracts_active_in,
    next_month,
    outages_for_evidence,
)
from portal.errors import ServiceError


def sla_evaluate_month(*, month: date, now: datetime | None = None) -> dict:
    """Evaluate every contract version with an uptime target that was active in `month` (its
    first day) and record a breach for each camera below target. Safe to run twice."""
    now = now or timezone.now()
    if month.day != 1:
        raise ServiceError(_("Give the month as its first day."), field="month")
    # An unfinished month would be recorded as evaluated and never looked at again.
    if timezone.localdate(now) < next_month(month):
        raise ServiceError(_("The month is not over yet."), field="month")
    result = {
        "month": f"{month:%Y-%m}",
        "contracts": 0,
        "already_evaluated": 0,
        "cameras": 0,
        "no_data": 0,
        "breaches": 0,
    }
    for contract, window in contracts_active_in(month=month, uptime_only=True):
        done = _evaluate_contract(contract=contract, month=month, window=window, now=now)
        if done is None:
            result["already_evaluated"] += 1
            continue
        result["contracts"] += 1
        for key in ("cameras", "no_data", "breaches"):
            result[key] += done[key]
    return result


def _evaluate_contract(
    *, contract: Contract, month: date, window: ActiveWindow, now: datetime
) -> dict | None:
    with transaction.atomic():
        # The claim: a concurrent evaluation of the same contract and month waits on this row's
        # unique index and then finds it taken.
        evaluation, created = SlaEvaluation.objects.get_or_create(
            contract=contract, month=month, defaults={"evaluated_at": now}
        )
        if not created:
            return None
        lines = [
            line
            for line in camera_months(contract=contract, window=window)
            if line.target is not None
        ]
        below = [line for line in lines if line.status == CameraSla.MISSED]
        outages = outages_for_evidence(camera_ids=[line.camera.pk for line in below], window=window)
        Breach.objects.bulk_create(
            [
                Breach(
                    kind=BreachKind.UPTIME_BELOW,
                    contract=contract,
                    obligation=line.obligation,
                    responsible_id=line.obligation.responsible_id,
                    camera=line.camera,
                    period=month,
                    target=line.target,
                    measured=line.availability,
                    detected_at=now,
                    evidence={
                        "month": f"{month:%Y-%m}",
                        "from": window.start.isoformat(),
                        "to": (window.end - timedelta(days=1)).isoformat(),
                        "counted_seconds": line.counted,
                        "down_seconds": line.down,
                        "maintenance_seconds": line.maintenance,
                        "outages": outages[line.camera.pk],
                    },
                )
                for line in below
            ],
            ignore_conflicts=True,
        )
        SlaEvaluation.objects.filter(pk=evaluation.pk).update(
            cameras=len(lines), cameras_below_target=len(below)
        )
    return {
        "cameras": len(lines),
        "no_data": sum(line.status == CameraSla.NO_DATA for line in lines),
        "breaches": len(below),
    }
