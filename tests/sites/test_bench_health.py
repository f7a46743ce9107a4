"""bench_health end to end, small: real workers, the simulator, injected flips, a bench database."""

import io
import re

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.broker

FIGURE_LINES = (
    "cameras:",
    "workers:",
    "event loop:",
    "warm-up sweep:",
    "sweep 1:",
    "sweep 2:",
    "worker CPU:",
    "worker peak RSS:",
    "detection latency:",
    "correctness:",
    "storage growth:",
    "baseline (plain asyncio",
    "ours/baseline:",
    "target sweep <= 15 s:",
    "target DB write <= 1 s:",
    "target CPU <= 400 µs/check:",
    "target storage <= 150 MB/day:",
    "target zero false transitions:",
)


def _databases() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database")
        return {name for (name,) in cursor.fetchall()}


def test_bench_health_detects_exactly_the_injected_flips_and_drops_its_database(
    transactional_db,
):
    out = io.StringIO()
    bench_database = f"{connection.settings_dict['NAME']}_bench"

    call_command(
        "bench_health",
        cameras=300,
        sweeps=2,
        flips=3,
        down_after=2,
        batch_size=100,
        sweep_timeout=40,
        stdout=out,
    )

    text = out.getvalue()
    lines = text.splitlines()
    for label in FIGURE_LINES:
        assert any(line.startswith(label) for line in lines), f"no {label!r} line in:\n{text}"
    assert "cameras: 300" in lines
    # Flips of sweep 1 are down after 2 failed sweeps; those of sweep 2 are still being damped.
    assert "status changes 3 (expected after damping 3, from 6 injected flips" in text
    assert re.search(r"false transitions 0; missed 0", text)
    assert "every camera checked exactly once per sweep: yes" in text
    assert "target zero false transitions: PASS (0)" in text
    assert re.search(r"detection latency: min [\d.]+ s, .* over 3 changes, 2-2 sweeps", text)
    assert connection.settings_dict["NAME"] != bench_database
    assert bench_database not in _databases()
