"""Upstream suppression: when everything behind one pole or one network segment fails at once,
the pole's power or the segment's uplink is down, not each camera. One UpstreamIncident is
opened instead of a camera alert and an outage per camera; those cameras show upstream_down.

Everything is per camera owner: a group is one owner's cameras on one pole, or in one segment,
and its incident belongs to that owner. Two partners may use the same private /24 (10.0.0.0/24
at both is common) without being one network, and a partner's incident, tickets and SLA must
never depend on another partner's cameras. So one partner's cameras answering closes only that
partner's incident, and a pole carrying two partners' cameras that loses power opens one
incident per partner, each judged on that partner's cameras alone.

Grouping is done in Python over one batch's results (the batch is already in memory) and the
incidents are written with one INSERT and one UPDATE. Limits, on purpose:
- Groups are judged per batch. Batches are cut by camera id, so a pole or a segment whose cameras
  fall into two batches is judged on each part separately (each part must still meet the minimum
  size); if both parts qualify in the same sweep, the first batch written opens the incident and
  the other finds it open (a partial unique constraint keeps one open incident per place).
- A segment is the /24 of an IPv4 literal in the camera's URL; cameras addressed by name, and
  cameras in push mode (behind NAT, sites.health.sweeps), are grouped by pole only.
- A segment whose failing cameras all hang on one pole is a pole incident (the finer location).
"""

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sites.models import UpstreamIncident

UPSTREAM_DOWN = "upstream_down"
POLE_MIN, SEGMENT_MIN = 2, 3
# A probe refused by the address policy never left the checker: it says nothing about the network.
NOT_A_NETWORK_FAILURE = frozenset({"blocked_by_policy"})

Key = tuple[int, int | None, str]  # (owner_id, pole_id, "") or (owner_id, None, "10.1.2.0/24")


@dataclass(frozen=True, slots=True)
class Member:
    """One camera of the batch as suppression sees it."""

    camera_id: int
    owner_id: int
    pole_id: int | None
    urls: tuple[str, ...]
    failing: bool  # this probe's raw outcome was down
    reason: str
    damped_down: bool  # flap damping alone would have it down now
    previous: str  # its status before this probe


@dataclass(slots=True)
class Plan:
    """What the batch does about upstream failures."""

    suppressed: set[int] = field(default_factory=set)
    opened: list[tuple[Key, int]] = field(default_factory=list)  # (group, cameras affected)
    closed: set[Key] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.suppressed or self.opened or self.closed)


def segment_of(urls: Iterable[str]) -> str:
    """The /24 of the first IPv4 literal among the camera's URLs, or ""."""
    for url in urls:
        if not url:
            continue
        try:
            address = ipaddress.ip_address(urlsplit(url).hostname or "")
        except ValueError:
            continue
        if address.version == 4:
            return str(ipaddress.ip_network(f"{address}/24", strict=False))
    return ""


def _keys(member: Member) -> list[Key]:
    keys: list[Key] = []
    if member.pole_id is not None:
        keys.append((member.owner_id, member.pole_id, ""))
    segment = segment_of(member.urls)
    if segment:
        keys.append((member.owner_id, None, segment))
    return keys


def plan(members: Sequence[Member]) -> Plan:
    """Group the batch by owner and segment, then by owner and pole; decide who is suppressed."""
    result = Plan()
    by_segment: dict[Key, list[Member]] = defaultdict(list)
    for member in members:
        segment = segment_of(member.urls)
        if segment:
            by_segment[(member.owner_id, None, segment)].append(member)
        # A camera of an open incident answers again: the pole or uplink is back.
        if member.previous == UPSTREAM_DOWN and not member.failing:
            result.closed.update(_keys(member))

    def all_failing(group: list[Member]) -> bool:
        return all(m.failing and m.reason not in NOT_A_NETWORK_FAILURE for m in group)

    groups: list[tuple[Key, list[Member]]] = []
    claimed: set[int] = set()
    for key, group in by_segment.items():
        poles = {m.pole_id for m in group}
        on_one_pole = len(poles) == 1 and None not in poles
        if len(group) >= SEGMENT_MIN and not on_one_pole and all_failing(group):
            groups.append((key, group))
            claimed.update(m.camera_id for m in group)
    by_pole: dict[Key, list[Member]] = defaultdict(list)
    for member in members:
        if member.pole_id is not None and member.camera_id not in claimed:
            by_pole[(member.owner_id, member.pole_id, "")].append(member)
    for key, group in by_pole.items():
        if len(group) >= POLE_MIN and all_failing(group):
            groups.append((key, group))

    for key, group in groups:
        # Damping still applies: a shared blip shorter than the down threshold suppresses nothing.
        affected = [m.camera_id for m in group if m.damped_down or m.previous == UPSTREAM_DOWN]
        if affected:
            result.suppressed.update(affected)
            result.opened.append((key, len(affected)))
    return result


def write(cursor, sweep_id: int, upstream: Plan, now: datetime) -> None:
    """Close the incidents whose cameras answer and open one per new group (one statement each).

    Both match the owner as well as the place: another owner's incident at the same segment or
    pole is never touched.
    """
    table = UpstreamIncident._meta.db_table
    if upstream.closed:
        closed = list(upstream.closed)
        cursor.execute(
            f"""
            UPDATE {table} AS i SET ended_at = %s
            FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS k (owner_id, pole_id, segment)
            WHERE i.ended_at IS NULL AND i.owner_id = k.owner_id
                AND i.pole_id IS NOT DISTINCT FROM k.pole_id AND i.segment = k.segment
            """,
            [
                now,
                [owner for owner, _pole, _segment in closed],
                [pole for _owner, pole, _segment in closed],
                [segment for _owner, _pole, segment in closed],
            ],
        )
    if upstream.opened:
        # An incident already open for the same owner and place is the same incident; the
        # partial unique index incident_one_open_per_place is the arbiter, even between batches.
        # Sorted, so two batches inserting the same places wait on each other in one order.
        opened = sorted(upstream.opened, key=lambda item: (item[0][0], item[0][1] or 0, item[0][2]))
        cursor.execute(
            f"""
            INSERT INTO {table}
                (owner_id, pole_id, segment, started_at, ended_at, cameras_affected, sweep_id)
            SELECT u.owner_id, u.pole_id, u.segment, %s, NULL, u.cameras, %s
            FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::int[])
                AS u (owner_id, pole_id, segment, cameras)
            ON CONFLICT DO NOTHING
            """,
            [
                now,
                sweep_id,
                [owner for (owner, _pole, _segment), _n in opened],
                [pole for (_owner, pole, _segment), _n in opened],
                [segment for (_owner, _pole, segment), _n in opened],
                [count for _key, count in opened],
            ],
        )
