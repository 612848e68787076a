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
