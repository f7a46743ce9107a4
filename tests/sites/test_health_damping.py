"""Flap damping rules: pure functions, no database."""

import pytest

from sites.health.damping import (
    DEGRADED,
    DOWN,
    UP,
    Observation,
    State,
    next_state,
)

OK = Observation(UP, "ok", checked_image=True, checked_clock=True)
FAIL = Observation(DOWN, "timeout")


def _run(start: State, observations, *, down_after: int = 3, up_after: int = 2) -> list[State]:
    states, state = [], start
    for observation in observations:
        state = next_state(state, observation, down_after=down_after, up_after=up_after)
        states.append(state)
    return states


@pytest.mark.parametrize(
    ("observation", "expected"),
    [
        (OK, (UP, "ok")),
        (FAIL, (DOWN, "timeout")),
        (Observation(DEGRADED, "black", checked_image=True), (DEGRADED, "black")),
    ],
)
def test_next_state_unknown_takes_the_first_observation(observation, expected):
    state = next_state(State(), observation, down_after=3, up_after=2)

    assert (state.status, state.reason) == expected


def test_next_state_up_goes_down_only_after_down_after_failures():
    states = _run(State(UP, "ok", 0, 5), [FAIL, FAIL, FAIL])

    assert [s.status for s in states] == [UP, UP, DOWN]
    assert [s.fail_streak for s in states] == [1, 2, 3]
    assert states[-1].reason == "timeout"
    assert states[0].reason == "ok"  # damped: the standing status keeps its reason


def test_next_state_a_success_between_failures_resets_the_streak():
    states = _run(State(UP, "ok"), [FAIL, FAIL, OK, FAIL, FAIL])

    assert {s.status for s in states} == {UP}
    assert states[-1].fail_streak == 2


def test_next_state_down_comes_back_only_after_up_after_successes():
    states = _run(State(DOWN, "refused", 4, 0), [OK, FAIL, OK, OK])

    assert [s.status for s in states] == [DOWN, DOWN, DOWN, UP]
    assert states[1].reason == "timeout"  # still down: the reason follows the latest failure
    assert states[2].reason == "timeout"


def test_next_state_degraded_counts_as_reachable():
    degraded = Observation(DEGRADED, "clock_drift", checked_clock=True)

    from_down = _run(State(DOWN, "timeout", 9, 0), [degraded, degraded])
    from_up = _run(State(UP, "ok"), [degraded])

    assert [s.status for s in from_down] == [DOWN, DEGRADED]
    assert from_up[0].status == DEGRADED
    assert from_up[0].fail_streak == 0


def test_next_state_degraded_camera_failing_goes_down_after_down_after():
    states = _run(State(DEGRADED, "black"), [FAIL, FAIL, FAIL])

    assert [s.status for s in states] == [DEGRADED, DEGRADED, DOWN]


@pytest.mark.parametrize(
    ("reason", "skipped", "rechecked"),
    [
        ("black", Observation(UP, "ok", checked_clock=True), Observation(UP, "ok", True, False)),
        ("frozen", Observation(UP, "ok", checked_clock=True), Observation(UP, "ok", True, False)),
        ("clock_drift", Observation(UP, "ok", True, False), Observation(UP, "ok", False, True)),
    ],
)
def test_next_state_degraded_is_cleared_only_by_the_check_that_found_it(reason, skipped, rechecked):
    after_skip = next_state(State(DEGRADED, reason), skipped, down_after=3, up_after=2)
    after_recheck = next_state(after_skip, rechecked, down_after=3, up_after=2)

    assert (after_skip.status, after_skip.reason) == (DEGRADED, reason)
    assert (after_recheck.status, after_recheck.reason) == (UP, "ok")


def test_next_state_one_and_one_switch_immediately():
    states = _run(State(UP, "ok"), [FAIL, OK], down_after=1, up_after=1)

    assert [s.status for s in states] == [DOWN, UP]


def test_next_state_maintenance_is_treated_like_unknown():
    state = next_state(State("maintenance", ""), FAIL, down_after=3, up_after=2)

    assert state.status == DOWN
