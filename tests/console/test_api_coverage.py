"""Every staff operation of the API, by role, and the console page that serves it — or its
name in the short list of operations that stay API-only on purpose (docs/decisions.md,
"工作台（议题 12）"). The operations come from the URL map, so a new staff endpoint without a
console page or a written reason fails this file."""

from __future__ import annotations

from pathlib import Path

from app.org.models import Role

DECISIONS = Path(__file__).resolve().parents[2] / "docs" / "decisions.md"

# API operation → the console endpoint serving it (to every role the API serves).
SERVED = {
    "GET /api/v1/audit": "console.admin_audit",
    "GET /api/v1/calendar/status": "console.home",  # the banner on every page
    "GET /api/v1/clues": "console.clues",
    "GET /api/v1/clues/<int:clue_id>": "console.clue",
    "GET /api/v1/clues/<int:clue_id>/events": "console.clue",
    "GET /api/v1/clues/<int:clue_id>/photos": "console.clue",
    "GET /api/v1/clues/<int:clue_id>/photos/<int:photo_id>": "console.clue_photo",
    "GET /api/v1/clues/<int:clue_id>/duplicates": "console.clue",
    "GET /api/v1/clues/<int:clue_id>/reporter": "console.clue_reporter",
    **{
        f"POST /api/v1/clues/<int:clue_id>/{action}": "console.clue_action"
        for action in (
            "accept",
            "reject",
            "merge",
            "forward_12345",
            "assign",
            "reassign",
            "start",
            "send_back",
            "request_extension",
            "approve_extension",
            "deny_extension",
            "submit_report",
            "approve",
            "return",
            "reopen",
            "uphold",
            "refer",
        )
    },
    "GET /api/v1/exports/clues.xlsx": "console.ledger_export",
    "GET /api/v1/exports/ranking.xlsx": "console.ranking_export",
    "GET /api/v1/inbox": "console.inbox",
    "POST /api/v1/inbox/<int:item_id>/read": "console.inbox_open",
    "GET /api/v1/letters": "console.letters",
    "GET /api/v1/letters/<int:letter_id>": "console.letter",
    "GET /api/v1/letters/<int:letter_id>/pdf": "console.letter_pdf",
    "POST /api/v1/letters/<int:letter_id>/response": "console.letter_response",
    "POST /api/v1/officers/<int:officer_id>/activate": "console.admin_officer_state",
    "POST /api/v1/officers/<int:officer_id>/deactivate": "console.admin_officer_state",
    "POST /api/v1/qr-codes": "console.qr_issue",
    "GET /api/v1/qr-codes": "console.qr_codes",
    "GET /api/v1/qr-codes/<int:code_id>": "console.qr_codes",
    "GET /api/v1/qr-codes/<int:code_id>/image": "console.qr_image",
    "GET /api/v1/qr-codes/<int:code_id>/poster": "console.qr_poster",
    "POST /api/v1/qr-codes/<int:code_id>/revoke": "console.qr_revoke",
    "POST /api/v1/qr-codes/<int:code_id>/rotate": "console.qr_rotate",
    "GET /api/v1/qr-codes/<int:code_id>/scans": "console.qr_codes",
    "GET /api/v1/qr-codes/export": "console.qr_export_queue",
    "POST /api/v1/qr-codes/export-jobs": "console.qr_export_queue",
    "GET /api/v1/qr-codes/export-jobs/<int:export_id>": "console.qr_export_job",
    "GET /api/v1/qr-codes/export-jobs/<int:export_id>/file": "console.qr_export_file",
    "GET /api/v1/referrals": "console.referrals",
    "GET /api/v1/referrals/<int:referral_id>": "console.referral",
    "POST /api/v1/referrals/<int:referral_id>/receive": "console.receive",
    "POST /api/v1/referrals/<int:referral_id>/conclude": "console.conclude",
    "GET /api/v1/staff": "console.admin_staff",
    "POST /api/v1/staff": "console.admin_staff_create",
    "GET /api/v1/staff/<int:staff_id>": "console.admin_staff_account",
    "PATCH /api/v1/staff/<int:staff_id>": "console.admin_staff_update",
    "POST /api/v1/staff/<int:staff_id>/activate": "console.admin_staff_state",
    "POST /api/v1/staff/<int:staff_id>/deactivate": "console.admin_staff_state",
    "POST /api/v1/staff/<int:staff_id>/password": "console.admin_staff_password",
    "GET /api/v1/staff/me": "console.home",
    "POST /api/v1/staff/me/password": "console.password_submit",
    "DELETE /api/v1/staff/session": "console.logout",
    "GET /api/v1/stats/overview": "console.dashboard",
    "GET /api/v1/stats/ranking": "console.dashboard",
    "GET /api/v1/stats/officers": "console.officers",
    "POST /api/v1/units": "console.admin_unit_create",
    "POST /api/v1/units/<int:unit_id>/activate": "console.admin_unit_state",
    "POST /api/v1/units/<int:unit_id>/deactivate": "console.admin_unit_state",
    "POST /api/v1/units/<int:unit_id>/officers": "console.admin_officer_create",
}

# Served in the console to some of the API's roles only; the others keep the API (a reason
# for each in docs/decisions.md).
NARROWER = {
    "GET /api/v1/units": ("console.admin_units", {Role.ADMIN}),
    "GET /api/v1/units/<int:unit_id>": ("console.admin_unit", {Role.ADMIN}),
    "GET /api/v1/units/<int:unit_id>/officers": ("console.admin_unit", {Role.ADMIN}),
    "GET /api/v1/officers/<int:officer_id>": ("console.admin_unit", {Role.ADMIN}),
    "GET /api/v1/calendar": ("console.admin_calendar", {Role.ADMIN}),
}

# API-only on purpose; each is named in docs/decisions.md with its reason.
API_ONLY = {
    "GET /api/v1/exports/clues.csv",
    "GET /api/v1/exports/ranking.csv",
    "PATCH /api/v1/units/<int:unit_id>",
    "PATCH /api/v1/officers/<int:officer_id>",
    "PUT /api/v1/calendar/<day>",
    "DELETE /api/v1/calendar/<day>",
    "POST /api/v1/calendar/schedules",
    "GET /api/v1/calendar/add-working-days",
    "POST /api/v1/staff/me/wechat",
    "GET /api/v1/qr-codes/<int:code_id>/wxacode",
    "POST /api/v1/units/<int:unit_id>/qr-codes/rotate",
}

# Built by the 议题 17 work (seed-city practices, staff-registered intake, briefs); their
# console pages come with that work and move to SERVED then.
ELSEWHERE = {
    "POST /api/v1/clues",
    "GET /api/v1/clues/<int:clue_id>/callbacks",
    "POST /api/v1/clues/<int:clue_id>/callbacks",
    "PUT /api/v1/clues/<int:clue_id>/public-summary",
    "GET /api/v1/bad-ratings",
    "POST /api/v1/bad-ratings/<int:rectification_id>/rectify",
    "GET /api/v1/interviews",
    "POST /api/v1/interviews",
    "POST /api/v1/interviews/<int:interview_id>/follow-up",
    "GET /api/v1/stats/topics",
    "GET /api/v1/stats/annual",
    "GET /api/v1/exports/annual.xlsx",
    "GET /api/v1/briefs/daily",
    "GET /api/v1/briefs/daily.pdf",
}


def staff_operations(app) -> dict[str, frozenset[Role]]:
    """Every staff API operation and the roles the API lets use it."""
    found = {}
    for rule in app.url_map.iter_rules():
        rule_of = getattr(app.view_functions[rule.endpoint], "access_rule", None)
        if rule_of is None or not rule.rule.startswith("/api/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[f"{method} {rule.rule}"] = rule_of.roles
    return found


def console_roles(app) -> dict[str, frozenset[Role]]:
    return {
        endpoint: getattr(view, "console_roles", frozenset())
        for endpoint, view in app.view_functions.items()
        if endpoint.startswith("console.")
    }


def test_every_staff_operation_has_a_console_page_or_a_reason(app):
    operations = staff_operations(app)
    pages = console_roles(app)
    listed = set(SERVED) | set(NARROWER) | API_ONLY | ELSEWHERE
    assert not set(operations) - listed, "未归类的工作人员接口"
    assert not listed - set(operations) - ELSEWHERE, "已不存在的接口"
    for operation, endpoint in SERVED.items():
        assert endpoint in pages, (operation, endpoint)
        missing = operations[operation] - pages[endpoint]
        assert not missing, (operation, endpoint, sorted(r.value for r in missing))
    for operation, (endpoint, roles) in NARROWER.items():
        assert roles <= pages[endpoint] and roles <= operations[operation], operation


def test_the_api_only_operations_are_written_down():
    decisions = DECISIONS.read_text(encoding="utf-8")
    section = decisions.split("## 工作台（议题 12）", 1)[1]
    for operation in sorted(API_ONLY | set(NARROWER)):
        assert f"`{operation}`" in section, operation
