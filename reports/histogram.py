"""An inline SVG histogram of one measurement across a lot, with its limits drawn in."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, BINS = 320, 120, 24
PAD = 18


def histogram_svg(values: Sequence[float], low: float | None, high: float | None, units: str = "") -> str:
    if not values:
        return ""
    lo_v, hi_v = min(values), max(values)
    lo = min(x for x in (lo_v, low) if x is not None)
    hi = max(x for x in (hi_v, high) if x is not None)
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - span * 0.05, hi + span * 0.05
    width = (hi - lo) / BINS
    counts = [0] * BINS
    for v in values:
        counts[min(BINS - 1, int((v - lo) / width))] += 1
    top = max(counts) or 1
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(v: float) -> float:
        return round(PAD + (v - lo) / (hi - lo) * plot_w, 1)

    bar_w = plot_w / BINS
    parts = [f'<svg class="lg-hist" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="histogram of {len(values)} values">']
    for i, c in enumerate(counts):
        if not c:
            continue
        h = c / top * plot_h
        left = lo + i * width
        inside = (low is None or left + width > low) and (high is None or left < high)
        parts.append(f'<rect x="{PAD + i * bar_w:.1f}" y="{PAD + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                     f'height="{h:.1f}" fill="{"#0969da" if inside else "#cf222e"}"><title>{c}</title></rect>')
    for limit, name in ((low, "low"), (high, "high")):
        if limit is not None:
            parts.append(f'<line class="lg-limit" x1="{x(limit)}" x2="{x(limit)}" y1="{PAD - 6}" '
                         f'y2="{PAD + plot_h}" stroke="#cf222e" stroke-width="2" stroke-dasharray="4 2"/>'
                         f'<text x="{x(limit)}" y="{PAD - 8}" font-size="10" text-anchor="middle">'
                         f'{name} {limit:g}</text>')
    parts.append(f'<line x1="{PAD}" x2="{PAD + plot_w}" y1="{PAD + plot_h}" y2="{PAD + plot_h}" stroke="#57606a"/>'
                 f'<text x="{PAD}" y="{HEIGHT - 3}" font-size="10">{lo_v:.4g}</text>'
                 f'<text x="{PAD + plot_w}" y="{HEIGHT - 3}" font-size="10" text-anchor="end">{hi_v:.4g} '
                 f'{escape(units)}</text></svg>')
    return "".join(parts)
