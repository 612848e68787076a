"""/metrics: a Prometheus scrape sees the outbox and overdue stages follow the state, and only
the configured networks (or the token's holder) may scrape."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from app import clock
from app.extensions import db
from notifications.models import Channel
from notifications.outbox import enqueue
from tests.clues.factories import make_cast
from tests.fixtures.servers import gunicorn_server

OUTSIDER = {"REMOTE_ADDR": "203.0.113.7"}


def _scrape(client, **kwargs) -> dict[str, float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples = {}
    for line in response.get_data(as_text=True).splitlines():
        found = re.match(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", line)
        if found:
            samples[found.group(1)] = float(found.group(2))
    return samples


def test_outbox_depth_and_overdue_stages_follow_the_state(app, client):
    cast = make_cast(app, client)
    before = _scrape(client)
    assert before['pingyi_outbox_pending{channel="wechat"}'] == 0
    assert before['pingyi_clue_stages_overdue{stage="screening"}'] == 0

    cast.file()  # a clue waiting for screening, due in two working days
    with app.app_context():
        for n in range(3):
            enqueue(channel=Channel.WECHAT, kind="clue_accepted", payload={"n": n})
        db.session.commit()
    clock.set_now(clock.utcnow() + timedelta(days=10))
    try:
        after = _scrape(client)
    finally:
        clock.set_now(None)
    assert after['pingyi_outbox_pending{channel="wechat"}'] == 3
    assert after['pingyi_outbox_pending{channel="12345"}'] == 0
    assert after['pingyi_outbox_oldest_pending_age_seconds{channel="wechat"}'] >= 10 * 86400
    assert after['pingyi_clue_stages_overdue{stage="screening"}'] == 1
    assert after['pingyi_outbox_dead_letters{channel="wechat"}'] == 0
    # The earlier scrape and the requests since were counted, by endpoint.
    assert (
        after['pingyi_http_requests_total{endpoint="metrics.metrics",method="GET",status="200"}']
        >= 1
    )


def test_scheduler_leader_and_job_runs(app, client):
    from app.jobs import run_job
    from app.locks import take_lease

    with app.app_context():
        take_lease("scheduler", "host:42:abc", timedelta(seconds=10))
        run_job("rerating_sweep")
    samples = _scrape(client)
    assert samples['pingyi_scheduler_leader{holder="host:42:abc"}'] == 1
    assert 0 < samples["pingyi_scheduler_lease_remaining_seconds"] <= 10
    assert samples['pingyi_job_last_success_timestamp_seconds{job="rerating_sweep"}'] > 0
    assert samples['pingyi_job_last_success_timestamp_seconds{job="outbox_dispatch"}'] == 0


def test_an_unconfigured_network_gets_403_unless_it_has_the_token(app, client):
    response = client.get("/metrics", environ_base=OUTSIDER)
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    app.config["METRICS_ALLOWED_NETWORKS"] = "127.0.0.0/8,203.0.113.0/24"
    assert client.get("/metrics", environ_base=OUTSIDER).status_code == 200
    app.config["METRICS_ALLOWED_NETWORKS"] = "10.0.0.0/8"
    app.config["METRICS_TOKEN"] = "scrape-token-0123456789"
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", environ_base=OUTSIDER, headers=wrong).status_code == 403
    right = {"Authorization": "Bearer scrape-token-0123456789"}
    assert _scrape(client, environ_base=OUTSIDER, headers=right)


def test_gunicorn_workers_add_up_in_one_scrape(database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("the same on both engines: the figures are per process, not per database")
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with gunicorn_server(database_url, workers=2, threads=1, env=env, log_name="metrics") as base:
        before = _healthz_count(requests.get(f"{base}/metrics", timeout=10).text)
        sent = 0
        with ThreadPoolExecutor(4) as pool:  # in parallel until both workers answered some
            while len(list(folder.glob("counter_*.db"))) < 2 and sent < 400:
                answers = list(pool.map(lambda _: requests.get(f"{base}/healthz"), range(8)))
                assert all(answer.ok for answer in answers)
                sent += len(answers)
        after = _healthz_count(requests.get(f"{base}/metrics", timeout=10).text)
    assert len(list(folder.glob("counter_*.db"))) == 2  # each worker counted for itself
    assert after - before == sent  # whichever worker answered the scrape


def _healthz_count(text: str) -> float:
    found = re.search(
        r'pingyi_http_requests_total\{endpoint="health.healthz",method="GET",status="200"\} (\S+)',
        text,
    )
    assert found, text
    return float(found.group(1))
