"""The floor for bench/submit.py: bare Flask, one INSERT per request, nothing else.

Served by gunicorn with the same settings as the real app, it shows what the web server,
the driver and the database cost on their own; the real endpoint is measured against it.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, jsonify, request

from config import normalize_database_url

metadata = sa.MetaData()
floor = sa.Table(
    "bench_floor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("qr_token", sa.String(32)),
    sa.Column("level", sa.SmallInteger),
)
# bench/submit.py creates the table before gunicorn starts (workers would race to create it).
if "DATABASE_URL" in os.environ:
    engine = sa.create_engine(
        normalize_database_url(os.environ["DATABASE_URL"]), pool_size=10, max_overflow=10
    )

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/api/v1/evaluations")
def submit():
    body = request.get_json()
    with engine.begin() as conn:
        new_id = conn.execute(
            floor.insert().values(qr_token=body["qr_token"], level=body["level"])
        ).inserted_primary_key[0]
    return jsonify({"id": new_id, "clue": None}), 201


# ---------------------------------------------------------------- the rules alone
# What every rating must do whatever framework serves it, in bare Flask with nothing else:
# check the token's signature, count both rate limits in one Redis trip, read the code and its
# burst counts, write the rating and its rollups in one transaction. The app's own statements,
# script and token check are used, so it costs what the rules cost there. Between this and
# the floor is the rules' price; between the app and this, the framework's (hooks, APIFlask,
# input and output schemas, the ORM session, errors, audit and metrics).
rules = Flask("rules")
rules.add_url_rule("/healthz", view_func=healthz)


def _rules_setup() -> None:
    from redis import Redis

    from app.db import configure_sqlite
    from app.ratelimit import _ONE_TRIP
    from config import Config

    rules.config.from_object(Config)  # the token and hashing keys, as the app reads them
    rules.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine, 30_000)
    rules.extensions["one_trip"] = Redis.from_url(os.environ["REDIS_URL"]).register_script(
        _ONE_TRIP
    )
    with engine.connect() as conn:  # the default questionnaire, as the app finds it
        rules.extensions["questionnaire_id"] = conn.scalar(
            sa.text("SELECT id FROM questionnaires WHERE is_current ORDER BY id LIMIT 1")
        )


if "DATABASE_URL" in os.environ and os.environ.get("REDIS_URL"):
    _rules_setup()


@rules.post("/api/v1/evaluations")
def rules_submit():
    from datetime import timedelta

    from app.auth import read_token
    from app.clock import local_date, utcnow
    from app.crypto import hash_identity
    from evaluations.rollups import insert_rating, rating_is_one_statement
    from evaluations.service import _SCAN, rating_period_start

    body = request.get_json()
    payload = read_token("resident", request.headers["Authorization"][7:], 86_400)
    address = request.remote_addr or ""
    prefix = os.environ.get("RATELIMIT_KEY_PREFIX", "rules")
    broken, _ttl = rules.extensions["one_trip"](
        keys=[f"{prefix}/rules/net:{address}", f"{prefix}/rules/id:{payload['rid']}"],
        args=[100_000_000, 3600, 1_000_000, 3600],
    )
    if broken:
        return jsonify({"error": "rate_limited"}), 429
    now = utcnow()
    client_hash = hash_identity("addr", address)
    today = local_date(now)
    # As the app: where the rating and its rollups are one statement, no transaction is
    # needed around it; SQLite writes the rollups apart, in the rating's.
    if rating_is_one_statement(engine.dialect.name):
        statements = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    else:
        statements = engine.begin()
    with statements as conn:
        code = conn.execute(
            _SCAN,
            {
                "token": body["qr_token"],
                "client_hash": client_hash,
                "window_start": now - timedelta(seconds=rules.config["BURST_WINDOW_SECONDS"]),
                "minute_ago": now - timedelta(minutes=1),
            },
        ).first()
        new_id = insert_rating(
            conn,
            {
                "resident_id": payload["rid"],
                "qr_code_id": code.id,
                "unit_id": code.unit_id,
                "officer_id": None,
                "questionnaire_id": rules.extensions["questionnaire_id"],
                "level": body["level"],
                "dimensions": body.get("dimensions") or {},
                "reasons": [],
                "comment": body.get("comment") or "",
                "channel": payload["ch"],
                "entry_scene": None,
                "scanned_at": None,
                "created_at": now,
                "local_day": today,
                "period_start": rating_period_start(today),
                "client_hash": client_hash,
                "flags": [],
                "is_excluded": False,
            },
        )
    return jsonify({"id": new_id, "clue": None}), 201
