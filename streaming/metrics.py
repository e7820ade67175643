"""Prometheus metrics of a stream consumer process, served on its own port
(`python -m streaming.service ... --metrics-port N`, then `GET http://127.0.0.1:N/metrics`).

- `stream_messages_total{group, outcome}`: what its steps did (scored, dead_lettered, landed, ...);
- `stream_lag_messages{stream, group}`: messages not yet delivered to the group, read from the broker
  at each scrape: the backlog, which grows while the group falls behind and falls as it catches up;
- `stream_pending_messages{stream, group}`: delivered, not yet acknowledged (held by a lander, or
  left by a dead consumer until reclaimed);
- `stream_decision_latency_seconds`: from a message's publication (the broker's clock) to its
  answer's, for the scorers; what the service-level objective is about.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from serving.metrics import LATENCY_BUCKETS
from streaming.broker import Broker


class BrokerCollector(Collector):
    """The group's lag and pending count, asked of the broker when scraped."""

    def __init__(self, broker: Broker, stream: str, group: str) -> None:
        self.broker, self.stream, self.group = broker, stream, group

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "stream_lag_messages", "Messages not yet delivered to the group", labels=["stream", "group"]
        )
        lag.add_metric([self.stream, self.group], self.broker.lag(self.stream, self.group))
        yield lag
        pending = GaugeMetricFamily(
            "stream_pending_messages",
            "Messages delivered to the group's consumers and not yet acknowledged",
            labels=["stream", "group"],
        )
        pending.add_metric([self.stream, self.group], self.broker.pending(self.stream, self.group))
        yield pending


class StreamMetrics:
    def __init__(self, broker: Broker, stream: str, group: str) -> None:
        self.group = group
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "stream_messages",
            "Messages handled, by what happened to them",
            ["group", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "stream_decision_latency_seconds",
            "From a message's publication to its decision's (or dead letter's), the broker's clock",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(BrokerCollector(broker, stream, group))

    def count(self, outcomes: Mapping[str, int]) -> None:
        for outcome, number in outcomes.items():
            if number:
                self.messages.labels(self.group, outcome).inc(number)

    def answered(self, published_at: Iterable[float], now: float | None = None) -> None:
        now = time.time() if now is None else now
        for moment in published_at:
            self.latency.observe(max(0.0, now - moment))

    def serve(self, port: int) -> int:
        """Serve /metrics on loopback (a thread); the port (a free one if 0)."""
        server, _thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        return server.server_port
