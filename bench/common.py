"""Shared by the benchmarks: scratch databases, gunicorn, and wrk."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.servers import serve_gunicorn  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_SECRET = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def pg_admin_url() -> str:
    from config import normalize_database_url

    return normalize_database_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A fresh, migrated database of `kind` (sqlite | postgresql); dropped afterwards."""
    from tests.conftest import create_postgres_database, drop_postgres_database, migrate_database

    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.sqlite3"
            migrate_database(url)
            yield url
        return
    admin = pg_admin_url()
    name = f"pingyi_bench_{os.getpid()}"
    drop_postgres_database(admin, name)
    url = create_postgres_database(admin, name)
    try:
        migrate_database(url)
        yield url
    finally:
        drop_postgres_database(admin, name)


@contextmanager
def gunicorn(
    app_target: str,
    database_url: str,
    *,
    port: int,
    workers: int,
    threads: int,
    env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    log_path: Path | None = None,
) -> Iterator[str]:
    """Serve `app_target` (module:app) with gunicorn gthread workers; yields the base URL.

    The server's log goes to a temporary file removed afterwards, or to `log_path`, kept.
    """
    settings = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": BENCH_SECRET,
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    with (
        open(log_path, "w") if log_path else tempfile.NamedTemporaryFile("w", suffix=".log") as log,
        serve_gunicorn(
            app_target,
            settings,
            log,
            port=port,
            workers=workers,
            threads=threads,
            extra_args=["--backlog", "2048", "--log-level", "warning", *(extra_args or [])],
            stop_timeout=20,
        ) as base,
    ):
        yield base


@dataclass
class LoadResult:
    requests: int
    seconds: float
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    socket_errors: int
    created_ids: list[int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        bad = sum(count for status, count in self.statuses.items() if status >= 400)
        return bad + self.socket_errors


LUA_TEMPLATE = """
local bodies = {BODIES}
local counter = 0
statuses = {{}}
local threads = {{}}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  statuses = {{}}
end
request = function()
  counter = counter + 1
  local index = (counter * {THREADS} + id) % #bodies + 1
  local item = bodies[index]
  return wrk.format("POST", "{PATH}", {{
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. item[1]
  }}, item[2])
end
ids = {{}}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local found = string.match(body, '"id":%s*(%d+)')
    if found then table.insert(ids, found) end
  end
end
done = function(summary, latency, requests)
  local total = {{}}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, count in pairs(s) do total[code] = (total[code] or 0) + count end
  end
  local out = io.open("{IDS_FILE}", "w")
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("ids")) do out:write(value .. "\\n") end
  end
  out:close()
  io.write("STATUSES")
  for code, count in pairs(total) do io.write(" " .. code .. "=" .. count) end
  io.write("\\n")
  io.write(string.format("P50 %d\\nP99 %d\\n", latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(
    base: str,
    path: str,
    bodies: list[tuple[str, str]],
    *,
    connections: int,
    seconds: int,
    threads: int = 2,
) -> LoadResult:
    """Drive POST `path` with wrk; each request takes the next (token, json body) pair."""
    lua_items = ",\n".join(
        # LuaJIT has no \u escapes: keep the UTF-8 text as it is.
        "{" + json.dumps(token) + ", " + json.dumps(body, ensure_ascii=False) + "}"
        for token, body in bodies
    )
    script = (
        LUA_TEMPLATE.replace("{BODIES}", "{\n" + lua_items + "\n}")
        .replace("{THREADS}", str(threads))
        .replace("{PATH}", path)
        .replace("{{", "{")
        .replace("}}", "}")
    )
    ids_file = tempfile.NamedTemporaryFile(suffix=".ids", delete=False).name
    script = script.replace("{IDS_FILE}", ids_file)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        run = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                handle.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    output = run.stdout
    created_ids = [int(line) for line in Path(ids_file).read_text().split()]
    os.unlink(ids_file)
    if "STATUSES" not in output:
        raise RuntimeError(f"wrk failed:\n{run.stdout}\n{run.stderr}")
    statuses = {
        int(code): int(count)
        for code, count in re.findall(
            r"(\d+)=(\d+)", output.split("STATUSES", 1)[1].splitlines()[0]
        )
    }
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", output)
    count, duration, unit = int(match.group(1)), float(match.group(2)), match.group(3)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = sum(int(x) for x in socket.groups()) if socket else 0
    return LoadResult(
        requests=count,
        seconds=duration / 1000 if unit == "ms" else duration,
        statuses=statuses,
        p50_ms=int(re.search(r"P50 (\d+)", output).group(1)) / 1000,
        p99_ms=int(re.search(r"P99 (\d+)", output).group(1)) / 1000,
        socket_errors=socket_errors,
        created_ids=created_ids,
    )


def missing_rows(database_url: str, table: str, ids: list[int]) -> int:
    """How many of the acknowledged ids have no row in `table`."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            present = set(conn.execute(sa.text(f"SELECT id FROM {table}")).scalars())
    finally:
        engine.dispose()
    return len(set(ids) - present)
