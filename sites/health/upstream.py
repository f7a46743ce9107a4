"""Upstream suppression: when everything behind one pole or one network segment fails at once,
the pole's power or the segment's uplink is down, not each camera. One UpstreamIncident is
opened instead of a camera alert and an outage per camera; those cameras show upstream_down.

Grouping is done in Python over one batch's results (the batch is already in memory) and the
incidents are written with one INSERT and one UPDATE. Limits, on purpose:
- Groups are judged per batch. Batches are cut by camera id, so a pole or a segment whose cameras
  fall into two batches is judged on each part separately (each part must still meet the minimum
  size), and two batches may each open an incident for the same pole in the same sweep.
- A segment is the /24 of an IPv4 literal in the camera's URL, per owner; cameras addressed by
  name are grouped by pole only. The incident row records the segment text, not the owner, so
  two owners using the same private /24 both close an incident for that text.
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

Key = tuple[int | None, str]  # (pole_id, "") or (None, "10.1.2.0/24")


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
        keys.append((member.pole_id, ""))
    segment = segment_of(member.urls)
    if segment:
        keys.append((None, segment))
    return keys


def plan(members: Sequence[Member]) -> Plan:
    """Group the batch by segment, then by pole, and decide which cameras are suppressed."""
    result = Plan()
    by_segment: dict[tuple[int, str], list[Member]] = defaultdict(list)
    for member in members:
        segment = segment_of(member.urls)
        if segment:
            by_segment[(member.owner_id, segment)].append(member)
        # A camera of an open incident answers again: the pole or uplink is back.
        if member.previous == UPSTREAM_DOWN and not member.failing:
            result.closed.update(_keys(member))

    def all_failing(group: list[Member]) -> bool:
        return all(m.failing and m.reason not in NOT_A_NETWORK_FAILURE for m in group)

    groups: list[tuple[Key, list[Member]]] = []
    claimed: set[int] = set()
    for (_owner, segment), group in by_segment.items():
        poles = {m.pole_id for m in group}
        on_one_pole = len(poles) == 1 and None not in poles
        if len(group) >= SEGMENT_MIN and not on_one_pole and all_failing(group):
            groups.append(((None, segment), group))
            claimed.update(m.camera_id for m in group)
    by_pole: dict[int, list[Member]] = defaultdict(list)
    for member in members:
        if member.pole_id is not None and member.camera_id not in claimed:
            by_pole[member.pole_id].append(member)
    for pole_id, group in by_pole.items():
        if len(group) >= POLE_MIN and all_failing(group):
            groups.append(((pole_id, ""), group))

    for key, group in groups:
        # Damping still applies: a shared blip shorter than the down threshold suppresses nothing.
        affected = [m.camera_id for m in group if m.damped_down or m.previous == UPSTREAM_DOWN]
        if affected:
            result.suppressed.update(affected)
            result.opened.append((key, len(affected)))
    return result


def write(cursor, sweep_id: int, upstream: Plan, now: datetime) -> None:
    """Close the incidents whose cameras answer and open one per new group (one statement each)."""
    table = UpstreamIncident._meta.db_table
    if upstream.closed:
        cursor.execute(
            f"""
            UPDATE {table} SET ended_at = %s
            WHERE ended_at IS NULL AND (pole_id = ANY(%s::bigint[]) OR segment = ANY(%s::text[]))
            """,
            [
                now,
                [pole for pole, _segment in upstream.closed if pole is not None],
                [segment for _pole, segment in upstream.closed if segment],
            ],
        )
    if upstream.opened:
        # An incident already open for the same pole or segment is the same incident.
        cursor.execute(
            f"""
            INSERT INTO {table} (pole_id, segment, started_at, ended_at, cameras_affected, sweep_id)
            SELECT u.pole_id, u.segment, %s, NULL, u.cameras, %s
            FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS u (pole_id, segment, cameras)
            WHERE NOT EXISTS (
                SELECT 1 FROM {table} AS i
                WHERE i.ended_at IS NULL
                    AND i.pole_id IS NOT DISTINCT FROM u.pole_id AND i.segment = u.segment
            )
            """,
            [
                now,
                sweep_id,
                [pole for (pole, _segment), _n in upstream.opened],
                [segment for (_pole, segment), _n in upstream.opened],
                [count for _key, count in upstream.opened],
            ],
        )
