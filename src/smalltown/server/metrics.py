"""``GET /metrics``: Prometheus text, from a registry of this app's own.

The served app may add gauges through its ``gauges`` runtime extension, called (and awaited,
when it is a coroutine function) at each scrape: ``{name: (help, value)}`` for a single
value, or ``{name: (help, (label, ...), {(label value, ...): value})}`` for a labelled one
(keep the label values few: worlds, say, never users). Label sets that are no longer
reported are dropped.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "smalltown_function_calls",
            "Function calls",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "smalltown_function_seconds",
            "Function call duration",
            ["kind"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.connections = Gauge(
            "smalltown_sync_connections", "Open sync WebSockets", registry=self.registry
        )
        self.subscriptions = Gauge(
            "smalltown_subscriptions", "Live query subscriptions", registry=self.registry
        )
        self.refresh_rounds = Gauge(
            "smalltown_refresh_rounds", "Refresh rounds run (monotonic)", registry=self.registry
        )
        self.query_runs = Gauge(
            "smalltown_query_runs",
            "Queries run for subscriptions (monotonic)",
            registry=self.registry,
        )
        self.jobs = Gauge(
            "smalltown_scheduled_jobs_run",
            "Scheduled jobs run (monotonic)",
            registry=self.registry,
        )
        self.sync_cut_off = Counter(
            "smalltown_sync_cut_off",
            "Sync connections cut off for not reading their messages",
            registry=self.registry,
        )
        self.sync_outbox_peak = Gauge(
            "smalltown_sync_outbox_peak_bytes",
            "Most bytes of messages ever waiting to go out to one sync connection",
            registry=self.registry,
        )
        self.sync_calls_peak = Gauge(
            "smalltown_sync_pending_calls_peak",
            "Most mutations and actions ever waiting or running for one sync connection",
            registry=self.registry,
        )
        self.outbox_peak_bytes = 0
        self.calls_peak = 0
        self._app_gauges: dict[str, Gauge] = {}

    def set_app_gauges(self, values: Mapping[str, tuple]) -> None:
        """Gauges an app reports (see the module's docstring), created on first sight."""
        for name, entry in values.items():
            if len(entry) == 2:
                help_text, value = entry
                self._gauge(name, help_text, ()).set(value)
                continue
            help_text, labels, by_labels = entry
            gauge = self._gauge(name, help_text, tuple(labels))
            gauge.clear()
            for label_values, value in by_labels.items():
                gauge.labels(*label_values).set(value)

    def _gauge(self, name: str, help_text: str, labels: tuple[str, ...]) -> Gauge:
        gauge = self._app_gauges.get(name)
        if gauge is None:
            gauge = Gauge(name, help_text, labels, registry=self.registry)
            self._app_gauges[name] = gauge
        return gauge

    def observe_sync_connection(self, outbox_peak_bytes: int, calls_peak: int) -> None:
        """A closed sync connection's high-water marks; the gauges keep the most any
        connection reached."""
        self.outbox_peak_bytes = max(self.outbox_peak_bytes, outbox_peak_bytes)
        self.calls_peak = max(self.calls_peak, calls_peak)
        self.sync_outbox_peak.set(self.outbox_peak_bytes)
        self.sync_calls_peak.set(self.calls_peak)

    def observe_call(self, kind: str, path: str, seconds: float, ok: bool) -> None:
        self.calls.labels(kind, "success" if ok else "error").inc()
        self.seconds.labels(kind).observe(seconds)


async def metrics_endpoint(request: Request) -> Response:
    state = request.app.state
    metrics: Metrics = state.metrics
    metrics.subscriptions.set(state.subscriptions.subscription_count)
    metrics.refresh_rounds.set(state.subscriptions.rounds)
    metrics.query_runs.set(state.subscriptions.query_runs)
    metrics.jobs.set(state.scheduler.jobs_run)
    app_gauges = state.runtime.extensions.get("gauges")
    if callable(app_gauges):
        values = app_gauges()
        metrics.set_app_gauges(await values if inspect.isawaitable(values) else values)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
