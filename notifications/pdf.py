"""Letters and notices as A4 PDFs laid out like Chinese official documents (GB/T 9704-2012).

fpdf2 rather than reportlab: fpdf2 embeds (and subsets) TrueType and CFF outlines alike, so
the PDF works with whichever CJK font `qr.fonts.find_cjk_font` finds (WenQuanYi Micro Hei,
or Noto Sans CJK where only that is installed), while reportlab refuses CFF outlines. It is
pure Python on top of fontTools and Pillow. The text is real text (Identity-H with a
ToUnicode map), so it can be selected, searched and read back by `pdftotext`.

Chinese has no spaces to wrap at, so lines are broken here: at any CJK character, never
inside a run of Latin letters or digits (tracking numbers, percentages), and never so that a
closing mark (，。）」…) starts a line or an opening one (（「“) ends it. Full lines are
justified to the text block with a little letter spacing, as printed documents are.

Nothing is cached on disk: a letter renders in 0.3–0.4 s, most of it reading the font, and
its answer can change after it is issued; only the font check is remembered, in memory. The
same letter renders to the same bytes (the creation date is its issue date).
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from fontTools.ttLib import TTCollection, TTFont, TTLibError
from fpdf import FPDF
from fpdf.fonts import FontFace

from app.clock import LOCAL_TZ, local_date
from app.extensions import db
from app.org.models import StaffAccount
from clues.models import Clue
from notifications.letters import issuer_name, split_signature
from notifications.models import Letter, LetterKind
from notifications.wording import chinese_date
from qr.fonts import FontNotFound, find_cjk_font

__all__ = ["FontNotFound", "render_letter_pdf", "render_report_pdf", "wrap_lines"]

FONT = "cjk"
PT_PER_MM = 72 / 25.4

# GB/T 9704-2012: A4, a 156 × 225 mm text block 37 mm from the top and 28 mm from the left.
PAGE_W, PAGE_H = 210.0, 297.0
TOP, LEFT, BLOCK_W, BLOCK_H = 37.0, 28.0, 156.0, 225.0
RIGHT, BOTTOM = PAGE_W - LEFT - BLOCK_W, PAGE_H - TOP - BLOCK_H
# 28 characters a line and 22 lines a page: 三号 (≈16 pt) on the standard grid.
BODY_PT = BLOCK_W / 28 * PT_PER_MM
BODY_LEADING = BLOCK_H / 22 * PT_PER_MM
TITLE_PT = 22.0  # 二号
SMALL_PT = 14.0  # 四号: page numbers and the closing block
TABLE_PT = 12.0  # 小四
RED = (204, 0, 0)
BLACK = (0, 0, 0)

# Marks that may not start a line, and marks that may not end one (避头尾).
NO_LINE_START = frozenset("，。、；：？！）］｝】》」』〕〉’”…—～·％‰℃,.;:?!)]}%")
NO_LINE_END = frozenset("（［｛【《「『〔〈‘“([{")
# Letter spacing a justified line may get, as a share of the font size; wider gaps would read
# as spaces (to people and to pdftotext), so such a line stays flush left instead.
MAX_JUSTIFY_SPACING = 0.12
# Unbreakable: a letter serial (评督〔2026〕12号), a run of ASCII (tracking numbers, 80%);
# else one character (or one space) at a time.
_SERIAL = "|".join(
    sorted((re.escape(kind.serial_prefix) for kind in LetterKind), key=len, reverse=True)
)
_TOKEN = re.compile(rf"(?:{_SERIAL})〔\d{{4}}〕\d+号|[!-~]+| |[^\x00-\x7f]")
_EPSILON = 0.01


def mm(value: float) -> float:
    return value * PT_PER_MM


# ---------------------------------------------------------------- line breaking


def _tokens(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Characters, with serials and runs of ASCII letters, digits and marks kept whole (unless
    one alone is wider than a line)."""
    tokens = []
    for token in _TOKEN.findall(text.replace("\t", " ")):
        if len(token) > 1 and measure(token) > width:
            tokens.extend(token)
        else:
            tokens.append(token)
    return tokens


def wrap_lines(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Break one paragraph into lines no wider than `width` (as `measure` counts), the way
    Chinese is set: between any two characters, never inside a Latin word or number, never
    a closing mark at the start of a line or an opening mark at its end."""
    lines: list[str] = []
    line: list[str] = []
    used = 0.0
    for token in _tokens(text, width, measure):
        size = measure(token)
        if not line or used + size <= width + _EPSILON:
            line.append(token)
            used += size
            continue
        if token == " ":  # the break takes the place of the space
            lines.append("".join(line).rstrip(" "))
            line, used = [], 0.0
            continue
        carried, carried_width = [token], size
        # Pull characters down while the new line would start with a closing mark or this one
        # end with an opening mark, as long as what comes down still fits on one line.
        while (
            len(line) > 1
            and (carried[0][0] in NO_LINE_START or line[-1][-1] in NO_LINE_END)
            and carried_width + measure(line[-1]) <= width + _EPSILON
        ):
            carried_width += measure(line[-1])
            carried.insert(0, line.pop())
        lines.append("".join(line).rstrip(" "))
        while carried and carried[0] == " ":
            carried.pop(0)
        line, used = carried, sum(measure(t) for t in carried)
    if line or not lines:
        lines.append("".join(line).rstrip(" "))
    return lines


# ---------------------------------------------------------------- fonts


@functools.lru_cache(maxsize=8)
def _checked_face(path: str, size: int, mtime: int) -> int:
    """The face of `path` to use (Simplified Chinese in a collection), after checking that it
    really draws Chinese; keyed by size and mtime so a replaced file is looked at again."""
    del size, mtime
    try:
        if path.lower().endswith((".ttc", ".otc")):
            faces = TTCollection(path, lazy=True).fonts
        else:
            faces = [TTFont(path, lazy=True)]
    except (OSError, TTLibError) as exc:
        raise FontNotFound(
            f"无法读取字体文件 {path}（{exc}），无法生成函件 PDF。请安装 "
            "fonts-wqy-microhei，或把 QR_FONT_PATH 设置为中文字体文件的路径。"
        ) from exc
    names = [str(face["name"].getDebugName(1) or "") for face in faces]
    index = next(
        (i for i, n in enumerate(names) if " SC" in n),
        next((i for i, n in enumerate(names) if "Mono" not in n), 0),
    )
    cmap = faces[index].getBestCmap() or {}
    if not all(ord(ch) in cmap for ch in "评议督办函〔〕号"):
        raise FontNotFound(
            f"字体文件 {path} 不含中文字形，函件 PDF 会显示成方框。请安装 "
            "fonts-wqy-microhei，或把 QR_FONT_PATH 设置为中文字体文件的路径。"
        )
    return index


def _font(font_path: str | None) -> tuple[str, int]:
    """(file, face index) of the CJK font: `font_path`, else QR_FONT_PATH, else fontconfig's."""
    if font_path is not None:
        if not os.path.isfile(font_path):
            raise FontNotFound(
                f"字体文件 {font_path} 不存在，无法生成函件 PDF。请安装 "
                "fonts-wqy-microhei，或把 QR_FONT_PATH 设置为中文字体文件的路径。"
            )
        path = font_path
    else:
        configured = current_app.config.get("QR_FONT_PATH") if has_app_context() else None
        try:
            path = find_cjk_font(configured)
        except FontNotFound as exc:
            raise FontNotFound(
                "系统中找不到可以显示中文的字体，无法生成函件 PDF。请安装中文"
                "字体（Debian/Ubuntu：apt-get install fonts-wqy-microhei），或把 "
                "QR_FONT_PATH 设置为中文 TrueType 字体文件（.ttf/.ttc）的路径。"
            ) from exc
    stat = os.stat(path)
    return path, _checked_face(os.path.realpath(path), stat.st_size, stat.st_mtime_ns)


# ---------------------------------------------------------------- what the PDF shows


@dataclass(frozen=True)
class LetterFacts:
    """Everything a letter's PDF shows, read from the database once."""

    letter: Letter
    issuer: str
    paragraphs: list[str]
    signature: tuple[str, str] | None  # (issuer, date) closing the body
    unit_name: str | None
    tracking_no: str | None
    responder: str | None

    @classmethod
    def load(cls, letter: Letter) -> LetterFacts:
        # The signature block is set apart, right-aligned, so it is read off the body.
        lines, signature = split_signature(letter.body)
        tracking_no = responder = None
        if letter.clue_id is not None:
            tracking_no = db.session.scalar(
                sa.select(Clue.tracking_no).where(Clue.id == letter.clue_id)
            )
        if letter.responded_by is not None:
            responder = db.session.scalar(
                sa.select(StaffAccount.display_name).where(StaffAccount.id == letter.responded_by)
            )
        return cls(
            letter=letter,
            issuer=signature[0] if signature else issuer_name(),
            paragraphs=lines,
            signature=signature,
            unit_name=letter.unit.name if letter.unit is not None else None,
            tracking_no=tracking_no,
            responder=responder,
        )


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _local_time(moment: datetime) -> str:
    local = moment.astimezone(LOCAL_TZ)
    return f"{chinese_date(local.date())} {local:%H:%M}"


# ---------------------------------------------------------------- drawing


class _Pdf(FPDF):
    """A4 with the text block of GB/T 9704, one CJK font, and page numbers "— 1 —"."""

    def __init__(self, font: tuple[str, int], *, letter_format: bool) -> None:
        super().__init__(orientation="P", unit="pt", format="A4")
        self.add_font(FONT, fname=font[0], collection_font_number=font[1])
        self.set_margins(mm(LEFT), mm(TOP), mm(RIGHT))
        self.set_auto_page_break(True, margin=mm(BOTTOM))
        self.c_margin = 0
        self.letter_format = letter_format

    def footer(self) -> None:
        with self.local_context():
            self.set_char_spacing(0)
            self.set_font(FONT, size=SMALL_PT)
            self.set_text_color(*BLACK)
            # The number sits 7 mm under the text block, between two 一字线.
            self.set_xy(mm(LEFT), mm(TOP + BLOCK_H + 7))
            self.cell(mm(BLOCK_W), SMALL_PT * 1.2, f"— {self.page_no()} —", align="C")
            if self.letter_format and self.page_no() == 1:
                # 信函格式: a red double rule 20 mm above the bottom edge, thin over thick.
                self.double_rule(PAGE_H - 20 - 1.5, thick_first=False)

    def double_rule(self, top_mm: float, *, thick_first: bool) -> None:
        with self.local_context():
            self.set_draw_color(*RED)
            widths = (0.8, 0.3) if thick_first else (0.3, 0.8)
            y = top_mm
            for width in widths:
                self.set_line_width(mm(width))
                self.line(mm(20), mm(y + width / 2), mm(PAGE_W - 20), mm(y + width / 2))
                y += width + 0.7


class _Writer:
    """Lays out a letter top to bottom on the GB/T 9704 grid."""

    def __init__(self, pdf: _Pdf) -> None:
        self.pdf = pdf
        self.left = mm(LEFT)
        self.width = mm(BLOCK_W)
        self.bottom = mm(PAGE_H - BOTTOM)

    def measure(self, size: float) -> Callable[[str], float]:
        pdf = self.pdf

        def width(text: str) -> float:
            pdf.set_font(FONT, size=size)
            pdf.set_char_spacing(0)
            return pdf.get_string_width(text)

        return width

    def room(self, height: float) -> None:
        """Start a new page unless `height` more fits on this one."""
        if self.pdf.get_y() + height > self.bottom + _EPSILON:
            self.pdf.add_page()

    def skip(self, height: float) -> None:
        if self.pdf.get_y() + height <= self.bottom:
            self.pdf.set_y(self.pdf.get_y() + height)
        else:
            self.pdf.add_page()

    def text_line(
        self,
        text: str,
        *,
        size: float,
        leading: float,
        align: str = "L",
        x: float | None = None,
        width: float | None = None,
        color: tuple[int, int, int] = BLACK,
        justify: bool = False,
        bold: bool = False,
    ) -> None:
        pdf = self.pdf
        x = self.left if x is None else x
        width = self.width if width is None else width
        self.room(leading)
        pdf.set_font(FONT, size=size)
        pdf.set_text_color(*color)
        spacing = 0.0
        if justify and len(text) > 1:
            natural = self.measure(size)(text)
            spacing = (width - natural) / (len(text) - 1)
            if not 0 < spacing <= size * MAX_JUSTIFY_SPACING:
                spacing = 0.0
        pdf.set_char_spacing(spacing)
        pdf.set_x(x)
        if bold:  # one weight only: a hairline stroke around each glyph makes it heavier
            with pdf.local_context(text_mode="FILL_STROKE", line_width=size / 40, draw_color=color):
                pdf.cell(width, leading, text, align=align, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.cell(width, leading, text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.set_char_spacing(0)

    def paragraph(
        self,
        text: str,
        *,
        size: float = BODY_PT,
        leading: float = BODY_LEADING,
        align: str = "L",
        indent: float = 0.0,
        color: tuple[int, int, int] = BLACK,
        justify: bool = True,
        bold: bool = False,
    ) -> None:
        """One paragraph, wrapped; every line but the last justified."""
        width = self.width - 2 * indent
        lines = wrap_lines(text, width, self.measure(size))
        for number, line in enumerate(lines, start=1):
            self.text_line(
                line,
                size=size,
                leading=leading,
                align=align,
                x=self.left + indent,
                width=width,
                color=color,
                bold=bold,
                justify=justify and align == "L" and number < len(lines),
            )

    # ------------------------------------------------------------ the parts of a letter

    def masthead(self, facts: LetterFacts, *, letter_format: bool) -> None:
        """The red issuer name, the serial and the red rule(s) (版头)."""
        pdf = self.pdf
        size = 30.0
        fit = self.measure(size)(facts.issuer)
        if fit > self.width:
            size *= self.width / fit
        pdf.set_y(mm(30) if letter_format else mm(TOP + 10))
        self.text_line(facts.issuer, size=size, leading=size * 1.3, align="C", color=RED, bold=True)
        serial = facts.letter.serial
        if letter_format:
            # 信函格式: a red double rule (thick over thin) 4 mm below, the serial flush right.
            rule = pdf.get_y() / PT_PER_MM + 4
            pdf.double_rule(rule, thick_first=True)
            pdf.set_y(mm(rule + 3.5))
            self.text_line(serial, size=BODY_PT, leading=BODY_LEADING, align="R")
        else:
            # 文件格式: the serial centred under the issuer, a red rule 4 mm below it.
            self.skip(BODY_LEADING * 0.5)
            self.text_line(serial, size=BODY_PT, leading=BODY_LEADING, align="C")
            rule = pdf.get_y() / PT_PER_MM + 2
            with pdf.local_context():
                pdf.set_draw_color(*RED)
                pdf.set_line_width(mm(0.6))
                pdf.line(self.left, mm(rule), self.left + self.width, mm(rule))
            pdf.set_y(mm(rule + 2))
        self.skip(BODY_LEADING)

    def title(self, text: str) -> None:
        """The title centred; a long one breaks before its bracketed part when both halves fit
        (标题回行时词意完整), else wherever Chinese may break."""
        measure = self.measure(TITLE_PT)
        lines = wrap_lines(text, self.width, measure)
        bracket = text.rfind("（")
        if len(lines) > 1 and bracket > 0:
            halves = [text[:bracket], text[bracket:]]
            if all(measure(half) <= self.width for half in halves):
                lines = halves
        for line in lines:
            self.text_line(line, size=TITLE_PT, leading=TITLE_PT * 1.5, align="C", bold=True)
        self.skip(BODY_LEADING * 0.5)

    def body(self, paragraphs: Iterable[str]) -> None:
        for text in paragraphs:
            if text.strip():
                self.paragraph(text)
            else:
                self.skip(BODY_LEADING)

    def heading(self, text: str) -> None:
        self.room(BODY_LEADING * 3)  # never a heading alone at the foot of a page
        self.paragraph(text, justify=False, bold=True)

    def signature(self, issuer: str, day: str) -> None:
        """发文机关署名 and 成文日期: the date 2 characters from the right, the issuer starting
        2 characters left of the date (or 2 from the right when it is the longer)."""
        em = self.measure(BODY_PT)("　")
        issuer_w, day_w = self.measure(BODY_PT)(issuer), self.measure(BODY_PT)(day)
        right = self.left + self.width
        issuer_x = min(right - 2 * em - issuer_w, right - 4 * em - day_w)
        self.room(BODY_LEADING * 3)
        self.skip(BODY_LEADING)
        self.text_line(
            issuer, size=BODY_PT, leading=BODY_LEADING, x=issuer_x, width=right - issuer_x
        )
        self.text_line(
            day,
            size=BODY_PT,
            leading=BODY_LEADING,
            x=issuer_x + 2 * em,
            width=right - issuer_x - 2 * em,
        )

    def table(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths_mm: Sequence[float],
        aligns: Sequence[str],
    ) -> None:
        pdf = self.pdf
        padding = mm(1.2)
        widths = [mm(w) for w in widths_mm]
        measure = self.measure(TABLE_PT)

        def wrapped(text: str, width: float) -> str:
            return "\n".join(wrap_lines(text, width - 2 * padding - 0.5, measure))

        self.room(TABLE_PT * 1.6 * 3)
        pdf.set_font(FONT, size=TABLE_PT)
        pdf.set_text_color(*BLACK)
        pdf.set_char_spacing(0)
        with pdf.local_context(draw_color=(90, 90, 90), line_width=mm(0.2)):
            with pdf.table(
                col_widths=widths,
                width=sum(widths),
                align="LEFT",
                line_height=TABLE_PT * 1.45,
                padding=padding,
                text_align=tuple(aligns),
                first_row_as_headings=True,
                headings_style=FontFace(emphasis="", fill_color=(236, 236, 236)),
                repeat_headings=1,
            ) as table:
                for cells in [headings, *rows]:
                    row = table.row()
                    for text, width in zip(cells, widths, strict=True):
                        row.cell(wrapped(text, width))
        self.skip(BODY_LEADING * 0.4)

    def closing_block(self, items: Sequence[str]) -> None:
        """The facts a reader acts on, boxed between rules at the end (in the manner of 版记)."""
        if not items:
            return
        pdf = self.pdf
        leading = SMALL_PT * 1.7
        self.room(leading * 3)
        self.skip(BODY_LEADING * 0.5)

        def rule(width_mm: float) -> None:
            with pdf.local_context():
                pdf.set_draw_color(*BLACK)
                pdf.set_line_width(mm(width_mm))
                y = pdf.get_y()
                pdf.line(self.left, y, self.left + self.width, y)

        rule(0.35)
        for number, item in enumerate(items, start=1):
            em = self.measure(SMALL_PT)("　")
            for text in item.split("\n"):
                self.paragraph(text, size=SMALL_PT, leading=leading, indent=em)
            if number < len(items):
                rule(0.2)
        rule(0.35)


# ---------------------------------------------------------------- notices


def _notice_units(content: dict[str, Any]) -> list[dict[str, Any]]:
    """Every unit the notice mentions, once (a unit ranked in one table but short of sample
    in the other still appears in both, marked 样本不足 in the second)."""
    seen: dict[Any, dict[str, Any]] = {}
    for key in ("units", "by_satisfaction", "by_on_time", "red_list", "interview_list"):
        for row in content.get(key) or []:
            seen.setdefault(row.get("unit_id", row.get("unit")), row)
    return list(seen.values())


def _ranking_rows(
    content: dict[str, Any], ranked_key: str, rank: str, sample: str, rate: str
) -> list[list[str]]:
    ranked = content.get(ranked_key) or []
    named = {row.get("unit_id", row.get("unit")) for row in ranked}
    rows = [
        [str(row.get(rank) or "—"), row["unit"], str(row.get(sample) or 0), _percent(row.get(rate))]
        for row in ranked
    ]
    rows += [
        ["—", row["unit"], str(row.get(sample) or 0), "样本不足"]
        for row in _notice_units(content)
        if row.get("unit_id", row.get("unit")) not in named
    ]
    return rows


def _target_line(writer: _Writer, content: dict[str, Any], key: str, label: str) -> None:
    """The configured target beside the period's figure for all units (notices since the
    targets were configured carry both)."""
    target = (content.get("targets") or {}).get(key)
    if target is None:
        return
    actual = (content.get("totals") or {}).get(key)
    verdict = "" if actual is None else ("，达到目标" if actual >= target else "，未达到目标")
    writer.paragraph(
        f"　　目标：{label}不低于 {_percent(target)}；"
        f"本期全部单位合计 {_percent(actual)}{verdict}。",
        size=TABLE_PT,
        leading=TABLE_PT * 1.8,
    )


def _topic_section(writer: _Writer, topics: dict[str, Any]) -> None:
    """专题分析 of a monthly notice: clues by category and the most frequent terms."""
    writer.heading("　　五、专题分析")
    categories = [row for row in topics.get("by_category") or [] if row.get("clues")]
    if categories:
        writer.paragraph(
            "　　本期收到的问题线索按类别："
            + "，".join(f"{row['label']} {row['clues']} 件" for row in categories)
            + "。"
        )
    terms = topics.get("terms") or []
    if terms:
        writer.paragraph("　　群众反映最多的问题（按提及的线索和差评条数）：")
        writer.table(
            ["序号", "问题用词", "提及（条）"],
            [[str(n), row["term"], str(row["count"])] for n, row in enumerate(terms, 1)],
            (16, 100, 40),
            ("CENTER", "LEFT", "CENTER"),
        )
    if not categories and not terms:
        writer.paragraph("　　本期无线索和差评评语。")


def _notice_tables(writer: _Writer, content: dict[str, Any]) -> None:
    min_evaluations = content.get("min_evaluations")
    min_stages = content.get("min_stages")
    writer.heading("　　一、群众满意率排名")
    if min_evaluations is not None:
        writer.paragraph(
            f"　　有效评价不少于 {min_evaluations} 条的单位参与排名，不足的列为“样本不足”。",
            size=TABLE_PT,
            leading=TABLE_PT * 1.8,
        )
    _target_line(writer, content, "satisfaction_rate", "满意率")
    rows = _ranking_rows(
        content, "by_satisfaction", "satisfaction_rank", "evaluations", "satisfaction_rate"
    )
    if rows:
        writer.table(
            ["名次", "单位", "有效评价（条）", "满意率"],
            rows,
            (16, 72, 36, 32),
            ("CENTER", "LEFT", "CENTER", "CENTER"),
        )
    else:
        writer.paragraph("　　本期无评价。")

    writer.heading("　　二、按期办结率排名")
    if min_stages is not None:
        writer.paragraph(
            f"　　核查线索不少于 {min_stages} 件的单位参与排名，不足的列为“样本不足”。",
            size=TABLE_PT,
            leading=TABLE_PT * 1.8,
        )
    _target_line(writer, content, "on_time_rate", "按期办结率")
    rows = _ranking_rows(content, "by_on_time", "on_time_rank", "stages", "on_time_rate")
    if rows:
        writer.table(
            ["名次", "单位", "核查线索（件）", "按期办结率"],
            rows,
            (16, 72, 36, 32),
            ("CENTER", "LEFT", "CENTER", "CENTER"),
        )
    else:
        writer.paragraph("　　本期无核查线索。")

    writer.heading("　　三、红榜")
    red = content.get("red_list") or []
    if red:
        writer.table(
            ["序号", "单位", "满意率", "按期办结率"],
            [
                [
                    str(n),
                    row["unit"],
                    _percent(row.get("satisfaction_rate")),
                    _percent(row.get("on_time_rate")),
                ]
                for n, row in enumerate(red, 1)
            ],
            (16, 72, 34, 34),
            ("CENTER", "LEFT", "CENTER", "CENTER"),
        )
    else:
        writer.paragraph("　　本期无。")

    writer.heading("　　四、约谈名单")
    interview = content.get("interview_list") or []
    if interview:
        writer.table(
            ["序号", "单位", "约谈事由"],
            [
                [str(n), row["unit"], "；".join(row.get("reasons") or [])]
                for n, row in enumerate(interview, 1)
            ],
            (16, 64, 76),
            ("CENTER", "LEFT", "LEFT"),
        )
    else:
        writer.paragraph("　　本期无。")
    if content.get("topics"):
        _topic_section(writer, content["topics"])


# ---------------------------------------------------------------- the whole letter


def _closing_items(facts: LetterFacts) -> list[str]:
    letter = facts.letter
    items = []
    if facts.unit_name:
        items.append(f"受文单位：{facts.unit_name}")
    if facts.tracking_no:
        items.append(f"线索编号：{facts.tracking_no}")
    answerable = letter.kind in (LetterKind.SUPERVISION, LetterKind.ESCALATION)
    if letter.response_due_at is not None:
        items.append(
            f"回复期限：{chinese_date(local_date(letter.response_due_at))}前"
            "（逾期未回复的，提请上级机关督办）"
        )
    if letter.responded_at is not None:
        who = f"，回复人：{facts.responder}" if facts.responder else ""
        items.append(
            f"回复情况：已于{_local_time(letter.responded_at)}回复{who}。\n"
            + "\n".join(
                f"　　{line.strip()}" for line in letter.response.split("\n") if line.strip()
            )
        )
    elif answerable:
        items.append("回复情况：尚未回复。")
    if letter.escalated_at is not None:
        items.append(
            f"提级督办：因逾期未回复，已于{chinese_date(local_date(letter.escalated_at))}"
            "提请上级机关督办。"
        )
    return items


# Rendered letters, by everything their PDF shows: loading the CJK font costs most of a
# render (about 0.7 s), and a letter is read by every staff member of its unit, through the
# API and the console alike. A letter renders to the same bytes for the same facts (see
# set_creation_date), so a reply or an escalation simply makes a new key.
_RENDERED: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
RENDERED_KEEP = 128
_RENDERED_LOCK = threading.Lock()


def _facts_key(facts: LetterFacts, font: tuple[str, int]) -> tuple[Any, ...]:
    letter = facts.letter
    return (
        font,
        letter.id,
        letter.kind,
        letter.serial,
        letter.title,
        letter.body,
        json.dumps(letter.content, sort_keys=True, ensure_ascii=False, default=str),
        letter.issued_at,
        letter.response_due_at,
        letter.response,
        letter.responded_at,
        letter.escalated_at,
        facts.issuer,
        facts.unit_name,
        facts.tracking_no,
        facts.responder,
    )


def render_letter_pdf(letter: Letter, *, font_path: str | None = None) -> bytes:
    """The letter as an A4 PDF with selectable Chinese text (FontNotFound without a CJK font)."""
    font = _font(font_path)
    facts = LetterFacts.load(letter)
    key = _facts_key(facts, font)
    with _RENDERED_LOCK:
        if key in _RENDERED:
            _RENDERED.move_to_end(key)
            return _RENDERED[key]
    data = _draw_letter(facts, font)
    with _RENDERED_LOCK:
        _RENDERED[key] = data
        while len(_RENDERED) > RENDERED_KEEP:
            _RENDERED.popitem(last=False)
    return data


def _draw_letter(facts: LetterFacts, font: tuple[str, int]) -> bytes:
    letter = facts.letter
    letter_format = letter.kind != LetterKind.NOTICE
    pdf = _Pdf(font, letter_format=letter_format)
    pdf.set_title(letter.title)
    pdf.set_subject(f"{letter.kind.label} {letter.serial}")
    pdf.set_author(facts.issuer)
    pdf.set_creator("评议 Pingyi")
    pdf.set_lang("zh-CN")
    pdf.set_creation_date(letter.issued_at)  # the same letter renders to the same bytes
    pdf.add_page()
    writer = _Writer(pdf)
    writer.masthead(facts, letter_format=letter_format)
    writer.title(letter.title)
    writer.body(facts.paragraphs)
    if letter.kind == LetterKind.NOTICE and letter.content:
        _notice_tables(writer, letter.content)
    if facts.signature:
        writer.signature(*facts.signature)
    writer.closing_block(_closing_items(facts))
    return bytes(pdf.output())


# ---------------------------------------------------------------- reports (每日要情)


@dataclass(frozen=True)
class ReportTable:
    headings: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths_mm: Sequence[float]  # summing to at most the text block (156 mm)
    aligns: Sequence[str]


@dataclass(frozen=True)
class ReportSection:
    heading: str
    paragraphs: Sequence[str] = ()
    table: ReportTable | None = None


def render_report_pdf(
    *,
    title: str,
    subtitle: str,
    issuer: str,
    sections: Sequence[ReportSection],
    issued_at: datetime,
    font_path: str | None = None,
) -> bytes:
    """A report that is not a numbered letter (the daily brief), on the same A4 grid with
    the same font, headings, tables and signature as the letters."""
    pdf = _Pdf(_font(font_path), letter_format=False)
    pdf.set_title(title)
    pdf.set_author(issuer)
    pdf.set_creator("评议 Pingyi")
    pdf.set_lang("zh-CN")
    pdf.set_creation_date(issued_at)
    pdf.add_page()
    writer = _Writer(pdf)
    writer.title(title)
    writer.paragraph(subtitle, align="C", justify=False, size=SMALL_PT, leading=SMALL_PT * 1.8)
    for section in sections:
        writer.heading(section.heading)
        for text in section.paragraphs:
            writer.paragraph(text)
        if section.table is not None:
            table = section.table
            writer.table(table.headings, table.rows, table.widths_mm, table.aligns)
    writer.signature(issuer, chinese_date(local_date(issued_at)))
    return bytes(pdf.output())
