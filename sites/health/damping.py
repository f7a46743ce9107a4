"""Flap damping: turn a camera's raw probe outcomes into the status people act on.

Pure functions, no database. The rules:

- Reachability is damped. A reachable camera (up or degraded) goes down only after `down_after`
  consecutive failed probes, and a down camera comes back only after `up_after` consecutive
  probes that reached it. Until then the previous status (and its reason) stands, so one lost
  packet neither opens an outage nor writes a status change.
- Degraded counts as reachable: it resets the failure streak and adds to the success streak. The
  picture or the clock has a problem, but the camera answers; it is not an outage.
- Between up and degraded the latest deliberate check decides at once: black, frozen and clock
  drift come from checks that do not flap the way a network does. Those checks run at a slower
  cadence, so a probe that skipped the check which found the problem cannot clear it: the camera
  stays degraded until that check runs again and passes.
- Unknown (never checked) takes the first observation immediately: there is no earlier state to
  protect from a flap, and a new camera should show its real state on the first sweep.
- While down, the reason follows the latest failure (refused today, timeout tomorrow).

Maintenance and upstream-down are set by other rules (windows, suppression), not by probes; this
module treats a camera in either like an unknown one.
"""

from dataclasses import dataclass

UNKNOWN, UP, DEGRADED, DOWN = "unknown", "up", "degraded", "down"
REACHABLE = frozenset({UP, DEGRADED})
# Degraded reasons only the image check finds; every other degraded reason is the clock check's.
IMAGE_REASONS = frozenset({"black", "frozen"})
# The streak columns are small integers; past this the exact count no longer matters.
STREAK_CAP = 10_000


@dataclass(frozen=True, slots=True)
class State:
    """A camera's damped status with the counters damping needs."""

    status: str = UNKNOWN
    reason: str = ""
    fail_streak: int = 0
    ok_streak: int = 0


@dataclass(frozen=True, slots=True)
class Observation:
    """One probe outcome and which of the slower checks it included."""

    status: str
    reason: str
    checked_image: bool = False
    checked_clock: bool = False


def _found_by_skipped_check(reason: str, observation: Observation) -> bool:
    if reason in IMAGE_REASONS:
        return not observation.checked_image
    return not observation.checked_clock


def next_state(
    previous: State, observation: Observation, *, down_after: int, up_after: int
) -> State:
    """The state after `observation`; compare `.status` with the previous one to see a change."""
    status, reason = observation.status, observation.reason
    if (
        status == UP
        and previous.status == DEGRADED
        and _found_by_skipped_check(previous.reason, observation)
    ):
        status, reason = DEGRADED, previous.reason
    if status == DOWN:
        fail_streak, ok_streak = min(previous.fail_streak + 1, STREAK_CAP), 0
    else:
        fail_streak, ok_streak = 0, min(previous.ok_streak + 1, STREAK_CAP)

    # Which status and reason stand; the streaks always move.
    if previous.status == DOWN:
        if status != DOWN and ok_streak < up_after:
            status, reason = DOWN, previous.reason
    elif previous.status in REACHABLE and status == DOWN and fail_streak < down_after:
        status, reason = previous.status, previous.reason
    return State(status, reason, fail_streak, ok_streak)
