"""Examples for the OpenAPI document, in one place: a new schema needs only an entry here.

`SCHEMA_EXAMPLES` gives the example body of a request or response schema, by its name in the
document's components (the class name); `OPERATION_EXAMPLES` overrides it for one operation
("METHOD /path" → {"request": …, "response": …}) where the schema's example does not fit.
app/apidoc.py attaches them when the document is generated. tests/app/test_api_document.py
names every body without an example, and tests/app/test_api_examples.py replays each request
example against a seeded app and compares the answer with the response example's shape (the
same keys, the same types); ids in a request example are replaced by the seeded world's.
"""

from __future__ import annotations

from typing import Any

# ---------------------------------------------------------------- request bodies

REQUESTS: dict[str, Any] = {
    # residents
    "WeChatSignIn": {"code": "0c3Xk1Ga1TmZ4K0Pqa3Ga8Wc2H0Xk1Gv"},
    "WeChatBindIn": {"code": "0c3Xk1Ga1TmZ4K0Pqa3Ga8Wc2H0Xk1Gv"},
    "EvaluationIn": {
        "qr_token": "k7Q2mX9pL4vR8sT1",
        "level": 2,
        "dimensions": {"attitude": 2, "efficiency": 3},
        "reasons": ["态度生硬"],
        "comment": "窗口民警态度生硬，材料一次没说清楚",
        "clue": {
            "category": "buck_passing",
            "description": "3 月 2 日上午在户籍窗口办理迁入，民警让我来回跑了三趟",
            "identity": "anonymous",
        },
        "scene": 1011,
        "scancode_time": 1772415000,
    },
    "DirectReportIn": {
        "qr_token": "k7Q2mX9pL4vR8sT1",
        "category": "buck_passing",
        "description": "3 月 2 日上午在户籍窗口办理迁入，民警让我来回跑了三趟",
        "identity": "confidential",
        "phone": "13800138000",
        "sms_consent": True,
    },
    "ReratingIn": {"level": 4, "resolved": True, "comment": "已经办好了，谢谢"},
    "AppealIn": {"reason": "核查结论与事实不符，当天窗口有监控可以调取"},
    "WithdrawIn": {"reason": "问题已经当场解决"},
    "SubscribeIn": {
        "code": "0a1Bc2Dd3Ef4Gh5Ij6Kl7Mn8Op9Qr0St",
        "templates": ["clue_accepted", "clue_result"],
    },
    # staff sign-in and accounts
    "SessionIn": {"username": "zhang.screener", "password": "Passw0rd2026"},
    "PasswordChange": {"current_password": "Passw0rd2026", "new_password": "Xin-mima-2026"},
    "PasswordReset": {"new_password": "Chongzhi-2026"},
    "StaffIn": {
        "username": "li.verifier",
        "password": "Passw0rd2026",
        "display_name": "李核查",
        "role": "verifier",
        "unit_id": 4,
    },
    "StaffPatch": {"display_name": "李明"},
    "UnitIn": {
        "code": "LJ-GA-CN-03",
        "name": "临江市公安局城南分局第三派出所",
        "kind": "police",
        "parent_id": 4,
        "region": "城南区",
        "address": "城南区建设路 18 号",
    },
    "UnitPatch": {"address": "城南区建设路 20 号"},
    "OfficerIn": {"name": "王警官", "staff_no": "031245", "position": "户籍民警"},
    "OfficerPatch": {"position": "副所长"},
    "CalendarDayIn": {"is_working": False, "name": "元旦"},
    "ScheduleIn": {
        "year": 2027,
        "source": "国务院办公厅关于2027年部分节假日安排的通知",
        "holidays": [
            {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
            {"name": "春节", "from": "2027-02-05", "to": "2027-02-13"},
        ],
        "workdays": [{"name": "春节调休上班", "date": "2027-02-14"}],
    },
    # QR codes
    "QRCodeIn": {"unit_id": 4, "label": "户籍窗口 2 号"},
    "RevokeIn": {"reason": "窗口撤并"},
    "ExportJobIn": {"unit_id": 2, "format": "pdf"},
    # clue actions and the clue's other staff operations
    "ClueRegisterIn": {
        "source": "survey",
        "category": "conduct",
        "unit_id": 4,
        "description": "民意测评中群众反映夜间报警出警慢",
    },
    "NoteIn": {"note": "情况清楚，受理"},
    "RejectIn": {
        "reason": "no_substance",
        "message": "反映内容没有具体的时间、地点和事情，请补充后再反映",
    },
    "MergeIn": {"master_id": 1, "note": "与编号 XQ20260302-0001 反映的是同一件事"},
    "AssignIn": {"unit_id": 4, "days": 10, "note": "请调取当天窗口录像核实"},
    "ReassignIn": {"unit_id": 4, "reason": "涉及两个窗口，改由派出所统一核查"},
    "SendBackIn": {"reason": "反映的窗口不属于本所，应由交警大队核查"},
    "ReportIn": {
        "outcome": "substantiated",
        "findings": "经调取录像核实，该民警确有推诿行为",
        "measures": "批评教育，责令书面检查",
        "persons_handled": 1,
        "involves_misconduct": True,
        "reply_to_reporter": "经核查属实，已对相关民警批评教育，感谢您的监督",
    },
    "ExtensionIn": {"days": 3, "reason": "需要向银行调取转账记录"},
    "ReturnIn": {"reason": "报告未说明录像调取情况，请补充"},
    "ReopenIn": {"note": "反映人提供了新的证据，重新核查"},
    "UpholdIn": {"note": "原核查事实清楚、结论准确，维持原结论"},
    "CallbackIn": {"result": "satisfied", "note": "电话回访，反映人表示满意"},
    "PublicSummaryIn": {"text": "经核查属实，已对相关民警批评教育并整改窗口服务流程"},
    # referrals, letters, practices
    "ConcludeIn": {"persons_handled": 1, "measures": "诫勉谈话"},
    "ResponseIn": {
        "response": "逾期原因：当事人外出未能及时约谈；已于 3 月 5 日完成核查，报告已提交"
    },
    "RectifyIn": {
        "measures": "已与群众电话沟通并当面致歉，调整窗口叫号流程",
        "callback_result": "satisfied",
    },
    "InterviewIn": {
        "unit_id": 4,
        "held_on": "2026-03-10",
        "interviewer": "市委政法委副书记 赵某",
        "interviewee": "城南派出所所长 钱某",
        "reason": "按期办结率连续两月低于 80%",
        "commitments": "一个月内清理全部超期线索，所长每周调度",
    },
    "FollowUpIn": {"note": "超期线索已全部办结，每周调度会已形成记录"},
    # the 12345 platform's callback
    "HotlineCallbackIn": {
        "event_id": "evt-20260302-000123",
        "tracking_no": "XQ20260302-0001",
        "status": "closed",
        "result": "已联系供水公司，3 月 3 日恢复供水",
        "handled_at": "2026-03-03T10:20:00+08:00",
    },
}

# ---------------------------------------------------------------- response bodies

# A SHA-256 digest as the document shows one (dossiers, photos).
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

RESPONSES: dict[str, Any] = {
    "AuditPage": {
        "items": [
            {
                "action": "staff.create",
                "actor_id": None,
                "actor_name": "system",
                "actor_type": "system",
                "client_addr": "",
                "created_at": "2026-03-02T01:30:00Z",
                "details": {"role": "admin", "username": "zhou.admin"},
                "id": 21,
                "object_id": "7",
                "object_type": "staff",
                "role": "",
                "unit_id": 2,
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 9,
    },
    "CalendarDayOut": {"day": "2026-12-31", "is_working": False, "name": "元旦", "source": "admin"},
    "CalendarOut": {
        "days": [{"day": "2026-01-01", "is_working": False, "name": "元旦", "source": "official"}],
        "working_days": 248,
        "year": 2026,
    },
    "ClueOut": {
        "accepted_at": "2026-03-02T01:30:00Z",
        "assigned_at": "2026-03-02T01:30:00Z",
        "assigned_unit": {"id": 4, "name": "城南派出所"},
        "assignee_id": None,
        "available_actions": [
            {
                "action": "approve_extension",
                "enabled": False,
                "label": "批准延期",
                "reason": "没有待审批的延期申请",
            }
        ],
        "category": "buck_passing",
        "category_label": "推诿扯皮",
        "closed_at": "2026-03-02T01:30:00Z",
        "description": "3 月 2 日上午在户籍窗口办理迁入，民警让我来回跑了三趟",
        "due_at": "2026-03-02T01:30:00Z",
        "due_beyond_calendar": False,
        "extensions": [
            {
                "days": 2,
                "decided_at": "2026-03-02T01:30:00Z",
                "decision_note": "情况清楚，受理",
                "id": 1,
                "reason": "复杂",
                "requested_at": "2026-03-02T01:30:00Z",
                "status": "approved",
            }
        ],
        "hotline_case_no": "",
        "id": 16,
        "involves_misconduct": False,
        "is_overdue": False,
        "master_id": 13,
        "officer": None,
        "outcome": "substantiated",
        "persons_handled": 0,
        "reject_reason": "no_substance",
        "report": {
            "decision": "returned",
            "findings": "属实",
            "id": 6,
            "involves_misconduct": True,
            "measures": "",
            "outcome": "substantiated",
            "persons_handled": 0,
            "reply_to_reporter": "",
            "return_reason": "报告未说明录像调取情况，请补充",
            "submitted_at": "2026-03-02T01:30:00Z",
        },
        "reporter_message": "",
        "rerating_due_at": "2026-03-02T01:30:00Z",
        "reviewing_at": "2026-03-02T01:30:00Z",
        "self_verification_reason": "",
        "source": "direct",
        "stage": "verification",
        "stage_unit_id": 2,
        "status": "verifying",
        "status_label": "核查中",
        "submitted_at": "2026-03-02T01:30:00Z",
        "tracking_no": "XQ20260302-0001",
        "unit": {"id": 4, "name": "城南派出所"},
        "verifying_at": "2026-03-02T01:30:00Z",
        "warnings": [
            {
                "kind": "repeat",
                "count": 3,
                "window_days": 30,
                "officer_id": None,
                "created_at": "2026-03-02T01:30:00Z",
            }
        ],
    },
    "CluePage": {
        "items": [
            {
                "accepted_at": "2026-03-02T01:30:00Z",
                "assigned_at": "2026-03-02T01:30:00Z",
                "assigned_unit": {"id": 4, "name": "城南派出所"},
                "assignee_id": None,
                "available_actions": None,
                "category": "buck_passing",
                "category_label": "推诿扯皮",
                "closed_at": "2026-03-02T01:30:00Z",
                "description": "3 月 2 日上午在户籍窗口办理迁入，民警让我来回跑了三趟",
                "due_at": None,
                "due_beyond_calendar": False,
                "extensions": [],
                "hotline_case_no": "",
                "id": 1,
                "involves_misconduct": True,
                "is_overdue": False,
                "master_id": None,
                "officer": None,
                "outcome": "substantiated",
                "persons_handled": 0,
                "reject_reason": None,
                "report": {
                    "decision": "approved",
                    "findings": "属实",
                    "id": 1,
                    "involves_misconduct": True,
                    "measures": "",
                    "outcome": "substantiated",
                    "persons_handled": 0,
                    "reply_to_reporter": "",
                    "return_reason": "",
                    "submitted_at": "2026-03-02T01:30:00Z",
                },
                "reporter_message": "",
                "rerating_due_at": "2026-03-02T01:30:00Z",
                "reviewing_at": "2026-03-02T01:30:00Z",
                "self_verification_reason": "",
                "source": "direct",
                "stage": None,
                "stage_unit_id": None,
                "status": "closed",
                "status_label": "已办结",
                "submitted_at": "2026-03-02T01:30:00Z",
                "tracking_no": "XQ20260302-0001",
                "unit": {"id": 4, "name": "城南派出所"},
                "verifying_at": "2026-03-02T01:30:00Z",
                "warnings": [
                    {
                        "kind": "repeat",
                        "count": 3,
                        "window_days": 30,
                        "officer_id": None,
                        "created_at": "2026-03-02T01:30:00Z",
                    }
                ],
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 1,
    },
    "ClueSummaryOut": {
        "due_at": "2026-03-02T01:30:00Z",
        "status": "submitted",
        "tracking_no": "XQ20260302-0001",
        "tracking_url": "https://pingyi.example.gov.cn/t/hL66qFCe0qWHSVE6Zjd8pzruTMMWDG0h",
    },
    "DuplicateList": {
        "items": [
            {
                "description": "3 月 2 日上午在户籍窗口办理迁入，民警让我来回跑了三趟",
                "id": 8,
                "same_officer": False,
                "score": 1.0,
                "status": "verifying",
                "submitted_at": "2026-03-02T01:30:00Z",
                "tracking_no": "XQ20260302-0001",
            }
        ]
    },
    "ErrorCatalogueOut": {
        "items": [
            {
                "action": "fix_input",
                "action_label": "按 details.fields 在对应字段旁提示用户修改后再提交",
                "also_status": [],
                "code": "bad_request",
                "meaning": "请求无法解析",
                "message": "请求格式有误",
                "status": 400,
            }
        ]
    },
    "EvaluationOut": {
        "clue": {
            "due_at": "2026-03-02T01:30:00Z",
            "status": "submitted",
            "tracking_no": "XQ20260302-0001",
            "tracking_url": "https://pingyi.example.gov.cn/t/Wftyr1-dyF46Z_edH5nMCumn3HhthfbY",
        },
        "id": 1,
    },
    "EventList": {
        "items": [
            {
                "action": "file",
                "actor_name": "",
                "actor_type": "system",
                "created_at": "2026-03-02T01:30:00Z",
                "details": {"source": "direct"},
                "from_status": None,
                "id": 1,
                "note": "",
                "public_note": "您反映的问题已收到，将在规定期限内完成审核。",
                "role": "",
                "to_status": "submitted",
            }
        ]
    },
    "HealthOut": {
        "calendar": {
            "known_years": [2025],
            "message": "尚未载入 2027 年的法定节假日安排，落在这些年份的期限可能算错",
            "missing_years": [2027],
            "ok": False,
        },
        "database": "sqlite",
        "status": "ok",
    },
    "InboxOut": {
        "body": "",
        "clue_id": None,
        "created_at": "2026-03-02T01:30:00Z",
        "id": 339,
        "kind": "test",
        "letter_id": None,
        "read_at": "2026-03-02T01:30:00Z",
        "referral_id": None,
        "title": "城南",
    },
    "InboxPage": {
        "items": [
            {
                "id": 31,
                "kind": "clue_assign",
                "title": "新交办线索 XQ20260302-0001，请按期核查",
                "body": "请调取当天窗口录像核实",
                "clue_id": 16,
                "letter_id": None,
                "referral_id": None,
                "created_at": "2026-03-02T01:30:00Z",
                "read_at": None,
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 0,
        "unread": 0,
    },
    "LetterOut": {
        "body": "城南派出所：\n\u3000\u3000请于 5 个工作日内书面说明逾期原因。",
        "clue_id": None,
        "content": {},
        "escalated_at": None,
        "id": 2,
        "issued_at": "2026-03-02T01:30:00Z",
        "kind": "supervision",
        "kind_label": "督办函",
        "needs_response": False,
        "number": 2,
        "period_end": None,
        "period_start": None,
        "responded_at": "2026-03-02T01:30:00Z",
        "responded_by": {"display_name": "李核查", "id": 37},
        "response": "逾期原因：当事人外出未能及时约谈；已于 3 月 5 日完成核查，报告已提交",
        "response_due_at": None,
        "serial": "评督〔2026〕2号",
        "title": "关于逾期问题线索的督办函",
        "tracking_no": None,
        "unit": {"id": 4, "name": "城南派出所"},
        "year": 2026,
    },
    "LetterPage": {
        "items": [
            {
                "id": 2,
                "kind": "supervision",
                "kind_label": "督办函",
                "serial": "评督〔2026〕2号",
                "title": "关于逾期问题线索的督办函",
                "unit": {"id": 4, "name": "城南派出所"},
                "clue_id": None,
                "tracking_no": None,
                "issued_at": "2026-03-02T01:30:00Z",
                "response_due_at": None,
                "responded_at": "2026-03-02T01:30:00Z",
                "escalated_at": None,
                "needs_response": False,
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 0,
    },
    "MyClueList": {
        "items": [
            {
                "can_appeal": False,
                "category_label": "推诿扯皮",
                "description": "户籍窗口民警态度生硬，推诿让我来回跑了三趟",
                "due_at": "2026-03-02T01:30:00Z",
                "master_tracking_no": None,
                "outcome_label": None,
                "reply": "",
                "rerating": None,
                "stage_label": "审核",
                "status": "submitted",
                "status_label": "待审核",
                "submitted_at": "2026-03-02T01:30:00Z",
                "timeline": [
                    {
                        "at": "2026-03-02T01:30:00Z",
                        "note": "您反映的问题已收到，将在规定期限内完成审核。",
                        "status": "submitted",
                        "status_label": "待审核",
                    }
                ],
                "tracking_no": "XQ20260302-0001",
                "unit_name": "城南派出所",
            }
        ]
    },
    "MyClueOut": {
        "can_appeal": False,
        "category_label": "推诿扯皮",
        "description": "户籍窗口民警态度生硬，推诿让我来回跑了三趟",
        "due_at": "2026-03-02T01:30:00Z",
        "master_tracking_no": None,
        "outcome_label": "属实",
        "reply": "",
        "rerating": {
            "expires_at": "2026-03-02T01:30:00Z",
            "level": None,
            "resolved": None,
            "status": "pending",
        },
        "stage_label": "复核申请",
        "status": "appealed",
        "status_label": "复核申请中",
        "submitted_at": "2026-03-02T01:30:00Z",
        "timeline": [
            {
                "at": "2026-03-02T01:30:00Z",
                "note": "您反映的问题已收到，将在规定期限内完成审核。",
                "status": "submitted",
                "status_label": "待审核",
            }
        ],
        "tracking_no": "XQ20260302-0001",
        "unit_name": "城南派出所",
    },
    "OfficerOut": {
        "id": 10,
        "is_active": True,
        "name": "王警官",
        "position": "户籍民警",
        "staff_no": "N27",
        "unit_id": 4,
    },
    "OfficerPage": {
        "items": [
            {
                "id": 1,
                "is_active": False,
                "name": "张三",
                "position": "副所长",
                "staff_no": "031245",
                "unit_id": 4,
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 1,
    },
    "OfficerSummaryList": {
        "end": "2026-12-04",
        "items": [
            {
                "bad_ratings": 0,
                "clues_received": 0,
                "evaluations": 0,
                "is_active": True,
                "name": "张三",
                "officer_id": 1,
                "position": "副所长",
                "satisfaction_rate": None,
                "satisfied": 0,
                "staff_no": "031245",
                "substantiated": 0,
                "under_verification": 0,
                "unfounded": 0,
                "unit": "城南派出所",
                "unit_id": 4,
            }
        ],
        "start": "2026-12-01",
        "unit": {"id": 4, "name": "城南派出所"},
    },
    "OverviewOut": {
        "appeals": 2,
        "appeals_reopened": 1,
        "appeals_upheld": 1,
        "bad_ratings": 1,
        "bad_ratings_to_rectify": 0,
        "by_category": [
            {"category": "conduct", "clues": 1, "group": "职能类", "label": "作风问题"}
        ],
        "callback_rate": 1.0,
        "callbacks_due": 0,
        "callbacks_reached": 0,
        "clue_callbacks_due": 0,
        "clue_callbacks_made": 0,
        "clues_assigned": 1,
        "clues_received": 22,
        "end": "2026-12-04",
        "evaluations": 1,
        "excluded_ratings": 0,
        "forwarded": 1,
        "merged": 1,
        "on_time_rate": 1.0,
        "partly_substantiated": 0,
        "pending_screening": 5,
        "persons_handled": 0,
        "rectification_callbacks_reached": 0,
        "rectification_rate": 1.0,
        "rectified": 0,
        "rectified_on_time": 0,
        "referral_persons_handled": 1,
        "referred": 4,
        "rejected": 1,
        "rerating_satisfaction_rate": None,
        "rerating_satisfied": 0,
        "reratings": 0,
        "resolved": 0,
        "resolved_rate": None,
        "satisfaction_rate": 0.0,
        "satisfied": 0,
        "screened_out": 3,
        "self_verified": 0,
        "stages": 9,
        "stages_on_time": 9,
        "start": "2026-12-01",
        "substantiated": 6,
        "targets": {"on_time_rate": 0.995, "satisfaction_rate": 0.836},
        "under_verification": 8,
        "unfounded": 0,
        "unit": {"id": 4, "name": "城南派出所"},
    },
    "PhotoList": {
        "items": [
            {
                "created_at": "2026-03-02T01:30:00Z",
                "height": 24,
                "id": 1,
                "sha256": SHA256,
                "width": 32,
            }
        ]
    },
    "QRCodeList": {
        "items": [
            {
                "created_at": "2026-03-02T01:30:00Z",
                "id": 11,
                "label": "户籍窗口 2 号",
                "officer_id": None,
                "replaced_by_id": None,
                "revoked_at": None,
                "revoked_reason": "",
                "serial": "PY000011",
                "status": "active",
                "token": "eEAJVNU3wsgiue3SZgwiCywO",
                "unit_id": 4,
                "url": "https://pingyi.example.gov.cn/q/eEAJVNU3wsgiue3SZgwiCywO",
            }
        ]
    },
    "ExportJobOut": {
        "id": 7,
        "unit_id": 2,
        "format": "pdf",
        "status": "running",
        "status_label": "正在生成",
        "total": 1200,
        "done": 480,
        "created_at": "2026-03-02T01:30:00Z",
        "started_at": "2026-03-02T01:30:01Z",
        "finished_at": None,
        "file_name": "qr-JC01.pdf",
        "size": 0,
        "error": "",
        "download_url": None,
    },
    "QRCodeOut": {
        "created_at": "2026-03-02T01:30:00Z",
        "id": 1,
        "label": "",
        "officer_id": None,
        "replaced_by_id": None,
        "revoked_at": "2026-03-02T01:30:00Z",
        "revoked_reason": "窗口撤并",
        "serial": "PY000001",
        "status": "revoked",
        "token": "QqKH_NIVBIs-kt2lzs06g6HG",
        "unit_id": 4,
        "url": "https://pingyi.example.gov.cn/q/QqKH_NIVBIs-kt2lzs06g6HG",
    },
    "QRCodePage": {
        "items": [
            {
                "created_at": "2026-03-02T01:30:00Z",
                "id": 1,
                "label": "",
                "officer_id": None,
                "replaced_by_id": None,
                "revoked_at": None,
                "revoked_reason": "",
                "serial": "PY000001",
                "status": "active",
                "token": "QqKH_NIVBIs-kt2lzs06g6HG",
                "unit_id": 4,
                "url": "https://pingyi.example.gov.cn/q/QqKH_NIVBIs-kt2lzs06g6HG",
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 1,
    },
    "RankingOut": {
        "by_category": [
            {"category": "conduct", "clues": 0, "group": "职能类", "label": "作风问题"}
        ],
        "by_on_time": [4, 6],
        "by_satisfaction": [4, 6],
        "end": "2026-11-29",
        "interview_list": [
            {
                "unit_id": 6,
                "unit": "城北派出所",
                "evaluations": 128,
                "satisfied": 109,
                "satisfaction_rate": 0.61,
                "satisfaction_rank": 9,
                "stages": 12,
                "on_time": 11,
                "on_time_rate": 0.7,
                "on_time_rank": 9,
                "reratings": 6,
                "rerating_satisfied": 5,
                "rerating_satisfaction_rate": 0.833,
                "clues_received": 9,
                "red_list": False,
                "interview_reasons": ["按期办结率低于 80%"],
                "by_category": {"buck_passing": 4, "conduct": 3},
            }
        ],
        "min_evaluations": 10,
        "min_stages": 3,
        "period": "week",
        "red_list": [
            {
                "unit_id": 4,
                "unit": "城南派出所",
                "evaluations": 128,
                "satisfied": 109,
                "satisfaction_rate": 0.852,
                "satisfaction_rank": 1,
                "stages": 12,
                "on_time": 11,
                "on_time_rate": 0.917,
                "on_time_rank": 2,
                "reratings": 6,
                "rerating_satisfied": 5,
                "rerating_satisfaction_rate": 0.833,
                "clues_received": 9,
                "red_list": True,
                "interview_reasons": [],
                "by_category": {"buck_passing": 4, "conduct": 3},
            }
        ],
        "start": "2026-11-23",
        "targets": {"on_time_rate": 0.995, "satisfaction_rate": 0.836},
        "unit": {"id": 2, "name": "城南区委政法委"},
        "units": [
            {
                "unit_id": 4,
                "unit": "城南派出所",
                "evaluations": 128,
                "satisfied": 109,
                "satisfaction_rate": 0.852,
                "satisfaction_rank": 1,
                "stages": 12,
                "on_time": 11,
                "on_time_rate": 0.917,
                "on_time_rank": 2,
                "reratings": 6,
                "rerating_satisfied": 5,
                "rerating_satisfaction_rate": 0.833,
                "clues_received": 9,
                "red_list": True,
                "interview_reasons": [],
                "by_category": {"buck_passing": 4, "conduct": 3},
            }
        ],
    },
    "ReferralOut": {
        "clue_id": 27,
        "concluded_at": "2026-03-02T01:30:00Z",
        "dossier": {
            "clue": {
                "category": "buck_passing",
                "closed_at": "2026-03-02T01:30:00Z",
                "description": "3 月 2 日上午在户籍窗口办理迁入，民警让我来回跑了三趟",
                "officer": None,
                "outcome": "substantiated",
                "persons_handled": 0,
                "submitted_at": "2026-03-02T01:30:00Z",
                "tracking_no": "XQ20260302-0001",
                "unit": "城南派出所",
                "unit_id": 4,
            },
            "events": [
                {
                    "action": "file",
                    "at": "2026-03-02T01:30:00Z",
                    "from": None,
                    "note": "",
                    "role": "",
                    "to": "submitted",
                }
            ],
            "evidence": [],
            "reports": [
                {
                    "decision": "approved",
                    "findings": "属实",
                    "measures": "",
                    "outcome": "substantiated",
                    "persons_handled": 0,
                    "submitted_at": "2026-03-02T01:30:00Z",
                }
            ],
        },
        "dossier_sha256": SHA256,
        "id": 4,
        "measures": "诫勉谈话",
        "note": "",
        "persons_handled": 1,
        "received_at": "2026-03-02T01:30:00Z",
        "referred_at": "2026-03-02T01:30:00Z",
        "seal_intact": True,
        "status": "concluded",
        "tracking_no": "XQ20260302-0001",
    },
    "ReferralPage": {
        "items": [
            {
                "clue_id": 12,
                "concluded_at": None,
                "dossier": {
                    "clue": {
                        "category": "buck_passing",
                        "closed_at": "2026-03-02T01:30:00Z",
                        "description": "3 月 2 日上午在户籍窗口办理迁入，民警让我来回跑了三趟",
                        "officer": None,
                        "outcome": "substantiated",
                        "persons_handled": 0,
                        "submitted_at": "2026-03-02T01:30:00Z",
                        "tracking_no": "XQ20260302-0001",
                        "unit": "城南派出所",
                        "unit_id": 4,
                    },
                    "events": [
                        {
                            "action": "file",
                            "at": "2026-03-02T01:30:00Z",
                            "from": None,
                            "note": "",
                            "role": "",
                            "to": "submitted",
                        }
                    ],
                    "evidence": [],
                    "reports": [
                        {
                            "decision": "approved",
                            "findings": "属实",
                            "measures": "",
                            "outcome": "substantiated",
                            "persons_handled": 0,
                            "submitted_at": "2026-03-02T01:30:00Z",
                        }
                    ],
                },
                "dossier_sha256": SHA256,
                "id": 3,
                "measures": "",
                "note": "情况清楚，受理",
                "persons_handled": None,
                "received_at": None,
                "referred_at": "2026-03-02T01:30:00Z",
                "seal_intact": True,
                "status": "pending",
                "tracking_no": "XQ20260302-0001",
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 2,
    },
    "ReporterOut": {"channel": "h5", "clue_id": 1, "identity": "anonymous", "phone": None},
    "ResidentTokenOut": {
        "expires_in": 2592000,
        "token": "eyJyaWQiOjQsImNoIjoid2VjaGF0In0.axJpvw.9EvsDbGqS81YyWpxmg7dYdpouQY",
    },
    "ScanCountsOut": {"days": [{"day": "2026-03-02", "count": 17}], "total": 17},
    "SessionOut": {
        "display_name": "周管理",
        "expires_in": 28800,
        "role": "admin",
        "token": "eyJzaWQiOjk0LCJ2IjoxfQ.axJpxw.NX3JTi7mOd8h9ppcv7qmFTHSBkc",
        "unit": {"code": "LJ", "id": 1, "name": "临江市委政法委"},
    },
    "StaffOut": {
        "display_name": "张审核",
        "id": 91,
        "is_active": True,
        "last_login_at": None,
        "locked_until": None,
        "officer_id": None,
        "password_changed_at": "2026-03-02T01:30:00Z",
        "role": "screener",
        "unit_id": 2,
        "username": "zhang.screener",
    },
    "StaffPage": {
        "items": [
            {
                "display_name": "周管理",
                "id": 7,
                "is_active": True,
                "last_login_at": None,
                "locked_until": None,
                "officer_id": None,
                "password_changed_at": "2026-03-02T01:30:00Z",
                "role": "admin",
                "unit_id": 2,
                "username": "zhou.admin",
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 47,
    },
    "SubscriptionsOut": {
        "has_contact": False,
        "templates": [
            {
                "kind": "clue_accepted",
                "remaining": 0,
                "template_id": "PINGYI_DEMO_clue_accepted",
                "title": "问题受理通知",
            }
        ],
        "wechat": True,
    },
    "TrackOut": {
        "access_code": "QG8D J9SA",
        "actions": [
            {
                "action": "rerate",
                "enabled": False,
                "label": "回评",
                "reason": "该线索尚未办结，暂不能回评",
            }
        ],
        "appeal": None,
        "can_appeal": False,
        "category_label": "推诿扯皮",
        "description": "户籍窗口民警态度生硬，推诿让我来回跑了三趟",
        "due_at": "2026-03-02T01:30:00Z",
        "handled_by": "临江市委政法委",
        "hotline_case_no": "",
        "hotline_result": "",
        "link_expires_at": None,
        "master_tracking_no": None,
        "next_step": "工作人员正在审核，决定是否受理；受理后交有关单位核查。",
        "outcome_label": None,
        "promise": {
            "due_at": "2026-03-02T01:30:00Z",
            "extended_days": 0,
            "stage_label": "审核受理",
            "working_days": 2,
        },
        "reply": "",
        "rerating": None,
        "stage_label": "审核",
        "status": "submitted",
        "status_label": "待审核",
        "submitted_at": "2026-03-02T01:30:00Z",
        "timeline": [
            {
                "at": "2026-03-02T01:30:00Z",
                "note": "您反映的问题已收到，将在规定期限内完成审核。",
                "status": "submitted",
                "status_label": "待审核",
            }
        ],
        "tracking_no": "XQ20260302-0001",
        "unit_name": "城南派出所",
    },
    "UnitOut": {
        "address": "城南区建设路 18 号",
        "code": "LJ-GA-CN-03",
        "depth": 2,
        "id": 51,
        "is_active": True,
        "kind": "police",
        "kind_label": "公安",
        "name": "临江市公安局城南分局第三派出所",
        "parent_id": 2,
        "region": "城南区",
    },
    "UnitPage": {
        "items": [
            {
                "address": "建设路2号",
                "code": "LJ-CN",
                "depth": 1,
                "id": 2,
                "is_active": True,
                "kind": "committee",
                "kind_label": "政法委",
                "name": "城南区委政法委",
                "parent_id": 1,
                "region": "城南区",
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 4,
    },
    "WorkingDaysOut": {
        "beyond_known_years": False,
        "days": 2,
        "result": "2026-02-24",
        "start": "2026-02-13",
    },
    "BadRatingOut": {
        "callback_result": "satisfied",
        "callback_result_label": "满意",
        "comment": "",
        "due_at": "2026-03-02T01:30:00Z",
        "id": 1,
        "is_overdue": False,
        "level": 1,
        "measures": "已与群众电话沟通并当面致歉，调整窗口叫号流程",
        "officer_id": None,
        "on_time": True,
        "rated_on": "2026-12-04",
        "reasons": [],
        "rectified_at": "2026-03-02T01:30:00Z",
        "status": "rectified",
        "status_label": "已整改",
        "unit": {"id": 4, "name": "城南派出所"},
    },
    "BadRatingPage": {
        "items": [
            {
                "callback_result": "satisfied",
                "callback_result_label": "满意",
                "comment": "",
                "due_at": "2026-03-02T01:30:00Z",
                "id": 1,
                "is_overdue": False,
                "level": 1,
                "measures": "已与群众电话沟通并当面致歉，调整窗口叫号流程",
                "officer_id": None,
                "on_time": True,
                "rated_on": "2026-12-04",
                "reasons": [],
                "rectified_at": "2026-03-02T01:30:00Z",
                "status": "rectified",
                "status_label": "已整改",
                "unit": {"id": 4, "name": "城南派出所"},
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 0,
    },
    "CallbackList": {
        "can_read_reporter": True,
        "due": False,
        "items": [
            {
                "called_at": "2026-03-02T01:30:00Z",
                "id": 1,
                "note": "电话回访，反映人表示满意",
                "result": "satisfied",
                "result_label": "满意",
                "staff": "张审核",
            }
        ],
        "reporter_phone": None,
    },
    "HotlineCallbackOut": {
        "event_id": "pingyi-forward-XQ20260302-0001",
        "replayed": False,
        "status": "closed",
        "tracking_no": "XQ20260302-0001",
    },
    "InterviewOut": {
        "commitments": "一个月内清理全部超期线索，所长每周调度",
        "follow_up_due_at": "2026-03-02T01:30:00Z",
        "follow_up_note": "",
        "followed_up_at": "2026-03-02T01:30:00Z",
        "held_on": "2026-03-10",
        "id": 1,
        "interviewee": "城南派出所所长 钱某",
        "interviewer": "市委政法委副书记 赵某",
        "is_overdue": True,
        "reason": "按期办结率连续两月低于 80%",
        "unit": {"id": 4, "name": "城南派出所"},
    },
    "InterviewPage": {
        "items": [
            {
                "commitments": "一个月内清理全部超期线索，所长每周调度",
                "follow_up_due_at": "2026-03-02T01:30:00Z",
                "follow_up_note": "",
                "followed_up_at": "2026-03-02T01:30:00Z",
                "held_on": "2026-03-10",
                "id": 1,
                "interviewee": "城南派出所所长 钱某",
                "interviewer": "市委政法委副书记 赵某",
                "is_overdue": True,
                "reason": "按期办结率连续两月低于 80%",
                "unit": {"id": 4, "name": "城南派出所"},
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 0,
    },
    "PhotoOut": {
        "created_at": "2026-03-02T01:30:00Z",
        "height": 24,
        "id": 1,
        "sha256": SHA256,
        "width": 32,
    },
    "PublicRankingOut": {
        "end": "2026-11-29",
        "min_evaluations": 10,
        "min_stages": 3,
        "outcomes": [
            {
                "category": "推诿扯皮",
                "closed_on": "2026-12-04",
                "outcome": "查实",
                "received_on": "2026-12-04",
                "summary": None,
                "unit": "城南派出所",
            }
        ],
        "red_list": ["城南派出所"],
        "start": "2026-11-23",
        "units": [
            {
                "unit": "城南派出所",
                "evaluations": 128,
                "satisfaction_rate": 0.852,
                "satisfaction_rank": 1,
                "stages": 12,
                "on_time_rate": 0.917,
                "on_time_rank": 2,
            }
        ],
    },
    "PublicSummaryOut": {
        "approved_at": "2026-03-02T01:30:00Z",
        "clue_id": 14,
        "text": "经核查属实，已对相关民警批评教育并整改窗口服务流程",
    },
    "ScanOut": {
        "categories": [{"code": "conduct", "group": "职能类", "label": "作风问题"}],
        "location": "窗口 4",
        "officer": None,
        "questionnaire": {
            "dimensions": [{"key": "attitude", "label": "态度"}],
            "id": 1,
            "levels": [{"is_bad": False, "label": "非常满意", "level": 5}],
            "reasons": {
                "1": ["态度生硬"],
                "2": ["态度生硬"],
                "3": ["等待时间较长"],
                "4": ["热情周到"],
                "5": ["热情周到"],
            },
            "version": 1,
        },
        "unit": {
            "address": "建设路4号",
            "id": 4,
            "kind": "police",
            "kind_label": "公安",
            "name": "城南派出所",
        },
    },
    "BriefOut": {
        "clues": {"by_category": [], "received": 0},
        "day": "2026-12-04",
        "end": "2026-12-03",
        "issued_at": None,
        "overdue": {"by_kind": [], "total": 0, "units": []},
        "ratings": {
            "bad_ratings": 0,
            "evaluations": 0,
            "satisfaction_rate": None,
            "satisfied": 0,
            "to_rectify": 0,
        },
        "start": "2026-12-03",
        "unit": {"id": 2, "name": "城南区委政法委"},
        "warnings": {"by_kind": [], "total": 0},
    },
    "AnnualOut": {
        "end": "2026-12-04",
        "interview_penalty": 2.0,
        "start": "2026-01-01",
        "unit": {"id": 2, "name": "城南区委政法委"},
        "units": [
            {
                "interviews": 2,
                "on_time_rate": 1.0,
                "on_time_sample": 14,
                "rank": 1,
                "rectification_rate": 1.0,
                "rectification_sample": 1,
                "rerating_satisfaction_rate": None,
                "rerating_satisfaction_sample": 0,
                "resolved_rate": None,
                "resolved_sample": 0,
                "satisfaction_rate": 0.0,
                "satisfaction_sample": 2,
                "score": 53.1,
                "unit": "城南派出所",
                "unit_id": 4,
            }
        ],
        "weights": {
            "on_time": 25.0,
            "rectification": 15.0,
            "rerating_satisfaction": 15.0,
            "resolved": 15.0,
            "satisfaction": 30.0,
        },
        "year": 2026,
    },
    "TopicsOut": {
        "by_category": [
            {"category": "conduct", "clues": 1, "group": "职能类", "label": "作风问题"}
        ],
        "documents": 28,
        "end": "2026-12-04",
        "start": "2026-12-01",
        "terms": [{"count": 24, "term": "内容"}],
        "unit": {"id": 2, "name": "城南区委政法委"},
        "units": [
            {
                "documents": 28,
                "terms": [{"count": 24, "term": "内容"}],
                "unit": "城南派出所",
                "unit_id": 4,
            }
        ],
    },
    "ScheduleOut": {"days": 13, "year": 2027},
    "CalendarStatusOut": {"known_years": [2025], "message": "", "missing_years": [], "ok": True},
}

SCHEMA_EXAMPLES: dict[str, Any] = {**REQUESTS, **RESPONSES}

# ---------------------------------------------------------------- error bodies

# `details` of an error code's example where it carries more than nothing (the rest show {}).
ERROR_DETAILS: dict[str, dict[str, Any]] = {
    "validation_error": {"location": "json", "fields": {"level": ["不能大于 5"]}},
    "rate_limited": {"limit": "20 per 1 hour", "retry_after": 1800},
    "illegal_transition": {
        "status": "closed",
        "action": "accept",
        "allowed_from": ["submitted"],
    },
    "forbidden": {"role": "verifier", "allowed_roles": ["screener"]},
    "already_rated": {"next_allowed_on": "2026-03-03"},
    "qr_revoked": {
        "current": {
            "token": "p3Lm8Qx2Vr7Tn4Ks",
            "url": "https://pingyi.example.gov.cn/q/p3Lm8Qx2Vr7Tn4Ks",
        }
    },
    "idempotency_key_reused": {"key": "9b2f6c1e-4d2a-4c1b-8f3e-2a7d5c9e0b14"},
    "too_many_failures": {"retry_after_minutes": 15},
    "wrong_password": {"fields": {"current_password": ["原密码不正确"]}},
    "duplicate": {"field": "username", "value": "li.verifier"},
    "not_found": {"id": 12},
    "invalid_json": {"reason": "Expecting value: line 1 column 1 (char 0)"},
    "unsupported_media_type": {"content_type": "text/plain"},
}

OPERATION_EXAMPLES: dict[str, dict[str, Any]] = {}
