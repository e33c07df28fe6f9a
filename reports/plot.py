"""An inline SVG line plot of a CSV attachment (first column x, the others y), e.g. a captured waveform."""

from __future__ import annotations

import csv
import io
from html import escape

WIDTH, HEIGHT, PAD = 480, 180, 34
COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#8250df")


def csv_plot_svg(text: str, max_points: int = 2000) -> str:
    """'' when the CSV has no header plus numeric rows."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 3 or len(rows[0]) < 2:
        return ""
    header, body = rows[0], rows[1:]
    try:
        data = [[float(c) for c in row] for row in body if row]
    except ValueError:
        return ""
    step = max(1, len(data) // max_points)
    data = data[::step]
    xs = [r[0] for r in data]
    ys = [v for r in data for v in r[1:]]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    xs_span, ys_span = (x1 - x0) or 1.0, (y1 - y0) or abs(y1) or 1.0
    pw, ph = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def pt(x: float, y: float) -> str:
        return f"{PAD + (x - x0) / xs_span * pw:.1f},{PAD + ph - (y - y0) / ys_span * ph:.1f}"

    parts = [f'<svg class="lg-plot" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="plot of {escape(", ".join(header))}">',
             f'<rect x="{PAD}" y="{PAD}" width="{pw}" height="{ph}" fill="none" stroke="#d0d7de"/>']
    for i in range(1, len(header)):
        points = " ".join(pt(r[0], r[i]) for r in data if len(r) > i)
        colour = COLOURS[(i - 1) % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'
                     f'<text x="{PAD + 4 + (i - 1) * 110}" y="{PAD - 6}" font-size="11" fill="{colour}">'
                     f'{escape(header[i])}</text>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="10">{x0:.4g}</text>'
                 f'<text x="{PAD + pw}" y="{HEIGHT - 8}" font-size="10" text-anchor="end">{x1:.4g} '
                 f'{escape(header[0])}</text>'
                 f'<text x="2" y="{PAD + 4}" font-size="10">{y1:.4g}</text>'
                 f'<text x="2" y="{PAD + ph}" font-size="10">{y0:.4g}</text></svg>')
    return "".join(parts)
