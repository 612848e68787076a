"""`GET /metrics` in Prometheus text format: what an operator watches without reading tables.

Two kinds of figures:
- request counts and latency by endpoint, counted in each process. Under gunicorn every worker
  counts for itself; with PROMETHEUS_MULTIPROC_DIR set (an empty folder per server start,
  before the workers start) each worker writes its counts there and a scrape adds them up,
  whichever worker answers it (prometheus-client's multiprocess mode);
- the state of the system, read from the database at each scrape, so every process answers
  the same: the scheduler lease and each job's last run here; packages above add theirs (the
  outbox, overdue stages) with `@state_metrics`.

Only the networks in METRICS_ALLOWED_NETWORKS, or a request with METRICS_TOKEN as its bearer
token, may read it; anyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from app.clock import utcnow
from app.errors import ApiError
from app.extensions import db

bp = APIBlueprint("metrics", __name__, tag="运行状态")

REQUESTS = Counter(
    "pingyi_http_requests_total",
    "Requests answered, by endpoint, method and status",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "pingyi_http_request_duration_seconds",
    "Time to answer a request, by endpoint",
    ["endpoint", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

StateMetrics = Callable[[], Iterable[Metric]]
_STATE: dict[str, StateMetrics] = {}


def state_metrics(func: StateMetrics) -> StateMetrics:
    """Register `func` (read inside an app context at every scrape) as a source of figures."""
    _STATE[f"{func.__module__}.{func.__qualname__}"] = func
    return func


def gauge(name: str, documentation: str, label: str, values: dict[str, float]) -> Metric:
    """One gauge family with one sample per label value (zeros included, so alerts see them)."""
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class _StateCollector:
    def collect(self) -> Iterable[Metric]:
        for source in _STATE.values():
            yield from source()
        db.session.rollback()  # reads only: end the scrape's transaction


def init_metrics(app: Flask) -> None:
    """Count and time every request, and serve /metrics."""
    app.before_request(_start_timer)
    app.after_request(_count)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    endpoint = request.endpoint or "unmatched"
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
    return response


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    networks = str(current_app.config.get("METRICS_ALLOWED_NETWORKS") or "")
    return any(
        address in ipaddress.ip_network(net.strip(), strict=False)
        for net in networks.split(",")
        if net.strip()
    )


@bp.get("/metrics")
@bp.doc(hide=True)
def metrics() -> Response:
    if not _allowed():
        raise ApiError(
            403, "forbidden", "指标只对配置的监控网络开放，或需携带监控令牌", {"path": "/metrics"}
        )
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
        scraped = generate_latest(registry)
    else:
        scraped = generate_latest(REGISTRY)
    state = CollectorRegistry(auto_describe=False)
    state.register(_StateCollector())  # type: ignore[arg-type]
    return Response(scraped + generate_latest(state), mimetype=CONTENT_TYPE_LATEST)


# ---------------------------------------------------------------- this package's figures


@state_metrics
def scheduler_metrics() -> Iterable[Metric]:
    """Who leads the scheduler, for how much longer, and each job's last success and failure."""
    from app.jobs import JOBS, JobRun
    from app.locks import Lease

    now = utcnow()
    lease = db.session.get(Lease, "scheduler")
    leader = GaugeMetricFamily(
        "pingyi_scheduler_leader",
        "1 for the scheduler process that holds the lease now (none while no one leads)",
        labels=["holder"],
    )
    remaining = 0.0
    if lease is not None and lease.expires_at > now:
        leader.add_metric([lease.holder], 1)
        remaining = (lease.expires_at - now).total_seconds()
    yield leader
    yield GaugeMetricFamily(
        "pingyi_scheduler_lease_remaining_seconds",
        "Seconds before the scheduler lease lapses unless renewed (0: no leader)",
        value=remaining,
    )
    runs = {run.name: run for run in db.session.scalars(sa.select(JobRun))}
    success: dict[str, Any] = {}
    failure: dict[str, Any] = {}
    for name in JOBS:
        run = runs.get(name)
        success[name] = run.last_success_at.timestamp() if run and run.last_success_at else 0
        failure[name] = run.last_failure_at.timestamp() if run and run.last_failure_at else 0
    yield gauge(
        "pingyi_job_last_success_timestamp_seconds",
        "When each job last finished without error (Unix time, 0: never)",
        "job",
        success,
    )
    yield gauge(
        "pingyi_job_last_failure_timestamp_seconds",
        "When each job last failed (Unix time, 0: never)",
        "job",
        failure,
    )
