"""Incidents and who has been told of them: the state the alert sensor keeps in its cursor.

An incident is open while what it names is observed failing (a job's latest run failed, a check's
latest evaluation failed, a model's latest promotion was refused). Each sink is told once when it
opens and once when it clears, however many ticks, retries or repeat failures lie between. A subject
not observed this tick (the published snapshot is missing, a check is running) keeps its state:
only an observation that it is fine clears it. A sink that could not be reached is tried again on
the next tick; the sinks that were reached are not told twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

OPEN, RECOVERED = "open", "recovered"


@dataclass(frozen=True)
class Incident:
    key: str  # what fails: "run:<job>", "check:<asset>:<check>", "promotion:<model>"
    kind: str  # run_failed, check_failed, drift, performance, stale_source, promotion_refused
    title: str
    detail: str
    link: str


@dataclass(frozen=True)
class Observation:
    """What one tick saw: every subject whose state is known, and the incidents among them."""

    seen: frozenset[str]
    failing: tuple[Incident, ...]

    @staticmethod
    def merge(parts: Iterable[Observation]) -> Observation:
        parts = list(parts)
        return Observation(
            frozenset().union(*(part.seen for part in parts)),
            tuple(incident for part in parts for incident in part.failing),
        )


@dataclass(frozen=True)
class Notice:
    """One message to one sink."""

    incident: Incident
    status: str  # OPEN or RECOVERED


@dataclass
class Tracked:
    incident: Incident
    status: str = OPEN
    opened: list[str] = field(default_factory=list)  # sinks told it opened
    closed: list[str] = field(default_factory=list)  # sinks told it cleared


class Incidents:
    """The open (and clearing) incidents, serialised to and from the sensor's cursor."""

    def __init__(self, tracked: dict[str, Tracked] | None = None) -> None:
        self.tracked = tracked or {}

    @classmethod
    def loads(cls, cursor: str | None) -> Incidents:
        if not cursor:
            return cls()
        raw = json.loads(cursor)["incidents"]
        return cls(
            {
                key: Tracked(Incident(**entry["incident"]), entry["status"], entry["opened"], entry["closed"])
                for key, entry in raw.items()
            }
        )

    def dumps(self) -> str:
        return json.dumps({"incidents": {key: asdict(t) for key, t in sorted(self.tracked.items())}})

    def observe(self, observation: Observation) -> None:
        failing = {incident.key: incident for incident in observation.failing}
        for key, incident in failing.items():
            tracked = self.tracked.get(key)
            if tracked is None:
                self.tracked[key] = Tracked(incident)
            else:  # still failing (or failing again before its recovery was told): one incident
                tracked.incident, tracked.status, tracked.closed = incident, OPEN, []
        for key, tracked in self.tracked.items():
            if tracked.status == OPEN and key in observation.seen and key not in failing:
                tracked.status = RECOVERED

    def due(self, sinks: Iterable[str]) -> list[tuple[str, Notice]]:
        """What each sink has not been told yet: an opening, or the clearing of an incident it was
        told of."""
        due = []
        for _, tracked in sorted(self.tracked.items()):
            for sink in sinks:
                if tracked.status == OPEN and sink not in tracked.opened:
                    due.append((sink, Notice(tracked.incident, OPEN)))
                elif tracked.status == RECOVERED and sink in tracked.opened and sink not in tracked.closed:
                    due.append((sink, Notice(tracked.incident, RECOVERED)))
        return due

    def delivered(self, sink: str, notice: Notice) -> None:
        tracked = self.tracked[notice.incident.key]
        (tracked.opened if notice.status == OPEN else tracked.closed).append(sink)

    def forget_cleared(self, sinks: Iterable[str]) -> None:
        """Drop the incidents whose clearing every configured sink told of its opening has heard."""
        sinks = set(sinks)
        self.tracked = {
            key: t
            for key, t in self.tracked.items()
            if t.status == OPEN or not (set(t.opened) & sinks) <= set(t.closed)
        }
