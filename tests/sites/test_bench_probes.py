"""bench_probes end to end: a real simulator process, the probe engine and the baseline client."""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def _mix(line: str) -> dict[str, int]:
    inside = line.rsplit("(", 1)[1].rstrip(")")
    return {
        name: int(count) for name, count in (item.rsplit(" ", 1) for item in inside.split(", "))
    }


def test_bench_probes_checks_every_camera_with_both_clients_and_prints_the_figures(settings):
    settings.HEALTH_CONNECT_TIMEOUT = 1.0
    settings.HEALTH_READ_TIMEOUT = 1.0
    out = io.StringIO()

    call_command(
        "bench_probes", "--cameras=200", "--concurrency=50", "--mix=tail_max_ms=250", stdout=out
    )

    lines = out.getvalue().splitlines()
    ours = next(line for line in lines if line.startswith("probe_many:"))
    baseline = next(line for line in lines if line.startswith("baseline"))
    for line in (ours, baseline):
        assert re.search(r"wall [\d.]+ s +[\d,]+ checks/s +client CPU \d+ µs/check", line)
        assert sum(_mix(line).values()) == 200
    # The simulated fleet has every kind of camera; both clients must see the same failures.
    assert _mix(ours)["ok"] > 150
    assert _mix(ours)["timeout"] == _mix(baseline)["timeout"] > 0
    assert _mix(ours)["refused"] == _mix(baseline)["refused"] > 0
    assert any(line.startswith("ours/baseline") for line in lines)


def test_bench_probes_refuses_more_cameras_than_the_simulator_network_holds():
    with pytest.raises(CommandError, match="--cameras"):
        call_command("bench_probes", "--cameras=70000", stdout=io.StringIO())
