"""Tiny inline-SVG charts for the dashboard: a line chart of rates, horizontal bars, a funnel.

No library and no script: each function returns an <svg> element as markup, every text in
it escaped, with <title> tooltips and an aria-label so the chart also reads without sight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

INK, MUTED, GRID = "#1f2328", "#59636e", "#d0d7de"
FONT = 'font-family="-apple-system, PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif"'


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # rates 0–1; None where there is nothing to show
    color: str
    notes: Sequence[str] = ()  # a tooltip line per point (e.g. the sample size)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-label="{escape(label)}" {FONT} font-size="13">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    label: str,
    width: int = 560,
    height: int = 240,
) -> Markup:
    """Rates over time (0–100 %); a gap where a point has no value."""
    left, right, top, bottom = 46, 16, 14, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    step = plot_w / (count - 1) if count > 1 else 0

    def x(i: int) -> float:
        return left + (i * step if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - max(0.0, min(1.0, v)))

    body: list[str] = []
    for tick in (0, 0.25, 0.5, 0.75, 1):
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'fill="{MUTED}">{int(tick * 100)}%</text>'
        )
    every = max(1, -(-count // 8))  # at most ~8 labels on the axis
    for i, text in enumerate(labels):
        if (count - 1 - i) % every == 0:  # counted from the latest, which always shows
            anchor = "end" if i == count - 1 and count > 1 else "start" if i == 0 else "middle"
            body.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 18}" '
                f'text-anchor="{anchor}" fill="{MUTED}">{escape(text)}</text>'
            )
    for s in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append((x(i), y(value)))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                body.append(
                    f'<polyline class="series" points="{points}" fill="none" '
                    f'stroke="{escape(s.color)}" stroke-width="2.5" '
                    f'stroke-linejoin="round"/>'
                )
        for i, value in enumerate(s.values):
            if value is None:
                continue
            note = f"（{s.notes[i]}）" if i < len(s.notes) and s.notes[i] else ""
            tip = f"{labels[i]} {s.name} {_pct(value)}{note}"
            body.append(
                f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3.5" '
                f'fill="{escape(s.color)}"><title>{escape(tip)}</title></circle>'
            )
    legend_x = left
    for s in series:
        body.append(
            f'<rect x="{legend_x}" y="{height - 16}" width="12" height="4" '
            f'fill="{escape(s.color)}"/>'
        )
        body.append(
            f'<text x="{legend_x + 16}" y="{height - 11}" fill="{INK}">{escape(s.name)}</text>'
        )
        legend_x += 28 + 13 * len(s.name)
    if not any(v is not None for s in series for v in s.values):
        body.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
            f'text-anchor="middle" fill="{MUTED}">暂无数据</text>'
        )
    return _svg(width, height, label, body)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # a rate 0–1
    note: str = ""  # shown after the value (e.g. the sample)
    color: str = "#b71c1c"


def bar_chart(bars: Sequence[Bar], *, label: str, width: int = 560) -> Markup:
    """Horizontal bars of rates, one row per item, in the given order."""
    row, top, label_w, value_w = 28, 6, 150, 170
    height = top * 2 + row * max(len(bars), 1)
    plot_w = width - label_w - value_w
    body: list[str] = []
    for i, bar in enumerate(bars):
        y = top + i * row
        name = bar.label if len(bar.label) <= 10 else bar.label[:9] + "…"
        body.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" fill="{INK}">'
            f"{escape(name)}<title>{escape(bar.label)}</title></text>"
        )
        body.append(
            f'<rect x="{label_w}" y="{y + 5}" width="{plot_w}" height="16" rx="3" fill="#f0f2f4"/>'
        )
        if bar.value is not None:
            length = max(0.0, min(1.0, bar.value)) * plot_w
            tip = f"{bar.label} {_pct(bar.value)} {bar.note}".strip()
            body.append(
                f'<rect class="bar" x="{label_w}" y="{y + 5}" width="{length:.1f}" '
                f'height="16" rx="3" fill="{escape(bar.color)}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        text = _pct(bar.value) if bar.value is not None else "—"
        note = f" {bar.note}" if bar.note else ""
        body.append(
            f'<text x="{label_w + plot_w + 8}" y="{y + 17}" fill="{INK}">'
            f'{escape(text)}<tspan fill="{MUTED}">{escape(note)}</tspan></text>'
        )
    if not bars:
        body.append(
            f'<text x="{width / 2:.0f}" y="{top + 17}" text-anchor="middle" '
            f'fill="{MUTED}">暂无达到最低样本量的单位</text>'
        )
    return _svg(width, height, label, body)


@dataclass(frozen=True)
class Step:
    label: str
    count: int
    detail: str = ""


def funnel_chart(steps: Sequence[Step], *, label: str, width: int = 560) -> Markup:
    """Centred bars narrowing from the first step, each with its count and share of it."""
    row, top = 52, 6
    height = top * 2 + row * max(len(steps), 1)
    first = steps[0].count if steps else 0
    plot_w = width - 40
    colors = ("#b71c1c", "#c62828", "#d84315", "#2e7d32", "#1565c0")
    body: list[str] = []
    for i, step in enumerate(steps):
        share = step.count / first if first else 0.0
        bar_w = max(plot_w * share, 2.0) if step.count else 2.0
        x = (width - bar_w) / 2
        y = top + i * row
        tip = f"{step.label} {step.count}" + (f"，{step.detail}" if step.detail else "")
        body.append(
            f'<rect class="step" x="{x:.1f}" y="{y}" width="{bar_w:.1f}" height="32" '
            f'rx="4" fill="{colors[i % len(colors)]}" opacity="0.9">'
            f"<title>{escape(tip)}</title></rect>"
        )
        ratio = f"（{share * 100:.0f}%）" if first and i else ""
        caption = f"{step.label} {step.count}{ratio}"
        # White on the bar when it is wide enough for the caption, else dark beside it.
        inside = bar_w >= 14 * len(caption) + 16
        paint = (
            'fill="#fff" stroke="#00000055" stroke-width="2" paint-order="stroke"'
            if inside
            else f'fill="{INK}"'
        )
        text_x = width / 2 if inside else x + bar_w + 8
        anchor = "middle" if inside else "start"
        body.append(
            f'<text x="{text_x:.1f}" y="{y + 21}" text-anchor="{anchor}" {paint} '
            f'font-weight="600">{escape(caption)}</text>'
        )
        if step.detail:
            body.append(
                f'<text x="{width / 2:.1f}" y="{y + 47}" text-anchor="middle" '
                f'fill="{MUTED}" font-size="12">{escape(step.detail)}</text>'
            )
    return _svg(width, height, label, body)
