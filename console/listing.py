"""The screener's lists: filters read from the address (unit in the tree, category, source,
status, deadline, date range, a Chinese substring of the complaint), sorting, the filtered
list as Excel, and batch acceptance and assignment from the queue.

The filter is clues.queries.ClueFilter, the rows come from clues.queries.clue_list, the file
from stats.exports and each batch step from the action catalogue — nothing here decides what
a clue may become.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Response, flash, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from app.audit import record_audit
from app.errors import DomainError
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, subtree_filter
from app.schemas import FIRST_DAY, LAST_DAY
from clues import queries, service
from clues.actions import CATALOGUE, perform
from clues.models import Clue, ClueSource
from clues.states import Action, ClueStatus
from console.forms import FormError, parse
from console.web import bp, console_view, current_staff, safe_next, see_other
from evaluations.questionnaire import ClueCategory
from stats import exports
from stats.routes import LEDGER_ROLES, XLSX

SORTS = {
    "new": ("最新收到", (Clue.submitted_at.desc(), Clue.id.desc())),
    "old": ("最早收到", (Clue.submitted_at, Clue.id)),
    "due": ("期限最近", (Clue.due_at.is_(None), Clue.due_at, Clue.id)),
}
MAX_EXPORT = 20_000
MAX_BATCH = 100


def scope_units(staff: StaffAccount) -> list[Unit]:
    """The active units in the staff member's scope, in tree order (parents before children)."""
    return list(
        db.session.scalars(
            sa.select(Unit)
            .where(subtree_filter(staff.unit.path), Unit.is_active)
            .order_by(Unit.path)
        )
    )


def _enum(kind: Any, raw: str | None) -> Any:
    return kind(raw) if raw in {item.value for item in kind} else None


def _day(raw: str | None) -> date | None:
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return day if day is None or FIRST_DAY <= day <= LAST_DAY else None


@dataclass(frozen=True)
class ListRequest:
    """A list asked for in the address: the filter, its sorting and the raw values to echo."""

    wanted: queries.ClueFilter
    sort: str
    args: dict[str, str]
    problems: list[str]

    @property
    def query(self) -> dict[str, str]:
        """The filters that are set (for links: the pager, the export)."""
        return {name: value for name, value in self.args.items() if value}


def list_request(staff: StaffAccount, args: MultiDict[str, str]) -> ListRequest:
    """Read the filters; a value that makes no sense is dropped and said so on the page."""
    problems = []
    unit = None
    if args.get("unit", "").isdecimal():
        unit = db.session.get(Unit, int(args["unit"]))
        if unit is None or not staff.unit.contains(unit):
            problems.append("所选单位不在您的管辖范围内，已忽略。")
            unit = None
    since, until = _day(args.get("from")), _day(args.get("to"))
    if (args.get("from") and since is None) or (args.get("to") and until is None):
        problems.append("日期格式应为 年-月-日，已忽略。")
    if since and until and since > until:
        problems.append("开始日期不能晚于结束日期，已忽略日期。")
        since = until = None
    wanted = queries.ClueFilter(
        status=_enum(ClueStatus, args.get("status")),
        unit=unit,
        overdue=True if args.get("overdue") == "1" else None,
        text=args.get("q", "").strip()[:100],
        category=_enum(ClueCategory, args.get("category")),
        source=_enum(ClueSource, args.get("source")),
        since=since,
        until=until,
    )
    sort = args.get("sort") if args.get("sort") in SORTS else "new"
    echo = {
        "status": wanted.status.value if wanted.status else "",
        "unit": str(unit.id) if unit else "",
        "overdue": "1" if wanted.overdue else "",
        "q": wanted.text,
        "category": wanted.category.value if wanted.category else "",
        "source": wanted.source.value if wanted.source else "",
        "from": since.isoformat() if since else "",
        "to": until.isoformat() if until else "",
        "sort": sort,
    }
    return ListRequest(wanted, sort, echo, problems)


def sorted_list(staff: StaffAccount, asked: ListRequest) -> sa.Select[tuple[Clue]]:
    return queries.clue_list(staff, asked.wanted).order_by(None).order_by(*SORTS[asked.sort][1])


def filter_choices() -> dict[str, Any]:
    return {
        "statuses": list(ClueStatus),
        "categories": list(ClueCategory),
        "sources": list(ClueSource),
        "sorts": [(key, label) for key, (label, _) in SORTS.items()],
    }


# ---------------------------------------------------------------- export


@bp.get("/clues/export.xlsx")
@console_view(*LEDGER_ROLES)  # the API's rule for the clue ledger
def clues_export() -> Response:
    """The filtered list as the ledger's Excel (same columns as the 台账), on the audit trail."""
    staff = current_staff()
    asked = list_request(staff, request.args)
    ids = sorted_list(staff, asked).with_only_columns(Clue.id).limit(MAX_EXPORT)
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    exports.write_xlsx(spool, [("线索", exports.LEDGER_COLUMNS, exports.ledger_rows(ids, staff))])
    record_audit(
        "console.clue_list_export",
        object_type="unit",
        object_id=staff.unit_id,
        unit_id=staff.unit_id,
        details={k: v for k, v in asked.args.items() if v},
    )
    db.session.commit()
    spool.seek(0)
    return send_file(
        spool, mimetype=XLSX, as_attachment=True, download_name="线索清单.xlsx", max_age=0
    )


# ---------------------------------------------------------------- batch


@bp.post("/queue/batch")
@console_view(Role.SCREENER, Role.ADMIN)
def queue_batch() -> Response:
    """Accept, or assign, the ticked clues."""
    form = request.form
    back = safe_next(form.get("next"), url_for("console.queue"))
    action = _enum(Action, form.get("action"))
    if action not in (Action.ACCEPT, Action.ASSIGN):
        flash("请选择要办理的操作。", "error")
        return see_other(back)
    run_batch(current_staff(), action, form)
    return see_other(back)


def run_batch(staff: StaffAccount, action: Action, form: MultiDict[str, str]) -> None:
    """Act on the ticked clues one by one through the catalogue; each succeeds or fails on
    its own (a savepoint each) and the flashed lines say which failed and why."""
    ids = [int(raw) for raw in form.getlist("clue_id") if raw.isdecimal()][:MAX_BATCH]
    if not ids:
        flash("请先勾选线索。", "error")
        return
    done, failed = [], []
    for clue_id in ids:
        clue = db.session.get(Clue, clue_id)
        if clue is None:
            continue
        try:
            with db.session.begin_nested():
                perform(action, clue_id, staff, _batch_body(action, clue, form))
            done.append(clue.tracking_no)
        except (DomainError, FormError) as error:
            failed.append(f"{clue.tracking_no}：{_reason(error)}")
    db.session.commit()
    if done:
        flash(f"{CATALOGUE[action].done}（{len(done)} 条）：{'、'.join(done)}", "ok")
    if failed:
        flash(f"{len(failed)} 条未能办理——" + "；".join(failed), "error")


def _batch_body(action: Action, clue: Clue, form: MultiDict[str, str]) -> Any:
    fields = MultiDict({"note": form.get("note", "")})
    if action is Action.ASSIGN:
        unit = form.get("unit_id", "")
        # "suggested": each clue to its own suggested unit (the usual choice in a batch).
        fields["unit_id"] = str(service.suggested_unit(clue).id) if unit == "suggested" else unit
    return parse(CATALOGUE[action].schema, fields)


def _reason(error: DomainError | FormError) -> str:
    if isinstance(error, FormError):
        return "；".join(error.errors.values())
    return error.message
