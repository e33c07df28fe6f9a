"""An inline SVG histogram of one measurement across a lot, with its limits drawn in.

The axis spans the values and the limits, with 5 % to spare on each side; its end labels are the axis
ends themselves, with as many digits as it takes to tell them apart. The bins are counted from the values
(``bin_counts``) or by the database (``reports.lot_db``) with the same ``Axis.bin_of`` arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT, BINS = 320, 120, 24
PAD = 18


@dataclass(frozen=True)
class Axis:
    lo: float
    hi: float
    bins: int = BINS

    @property
    def width(self) -> float:
        return (self.hi - self.lo) / self.bins

    def bin_of(self, value: float) -> int:
        """The bin index: ``int((value - lo) / width)`` (the database computes the same), the top end in the last."""
        return min(self.bins - 1, max(0, int((value - self.lo) / self.width)))


def histogram_axis(smallest: float, largest: float, low: float | None, high: float | None) -> Axis:
    lo = min(x for x in (smallest, low) if x is not None)
    hi = max(x for x in (largest, high) if x is not None)
    span = (hi - lo) or abs(hi) or 1.0
    return Axis(lo - span * 0.05, hi + span * 0.05)


def bin_counts(values: Iterable[float], axis: Axis) -> list[int]:
    counts = [0] * axis.bins
    lo, width, last = axis.lo, axis.width, axis.bins - 1
    for v in values:
        counts[min(last, max(0, int((v - lo) / width)))] += 1
    return counts


GRID = 20  # cells between a measurement's two limits: its histogram's bins are whole cells
CLAMP = 100_000.0  # cells beyond this (a value a million times off) count as this far out


def grid_position(value: float, low: float, high: float) -> float:
    """Where the value lies in cells from the low limit; the database computes the same expression."""
    return min(CLAMP, max(-CLAMP, (value - low) / ((high - low) / GRID)))


def grid_cell(value: float, low: float, high: float) -> int:
    """The cell of the value: ``floor`` as the databases compute it (a cast of a positive number)."""
    return int(grid_position(value, low, high) + 1_000_000.0) - 1_000_000


def grid_histogram(cells: dict[int, int], low: float, high: float, most: int = 40) -> tuple[Axis, list[int]]:
    """The axis and bin counts from cell counts: every cell from the data's and the limits' (0..GRID) with one
    to spare each side, whole cells merged so that at most ``most`` bins remain (the limits on bin edges)."""
    first, last = min(min(cells), 0) - 1, max(max(cells), GRID - 1) + 1
    merge = -(-(last - first + 1) // most)
    first -= (first % merge)  # bins start at a multiple of the merge, so the limits stay on bin edges
    bins = (last - first) // merge + 1
    counts = [0] * bins
    for cell, count in cells.items():
        counts[(cell - first) // merge] += count
    cell_width = (high - low) / GRID
    return Axis(low + first * cell_width, low + (first + bins * merge) * cell_width, bins), counts


def axis_labels(lo: float, hi: float) -> tuple[str, str]:
    """Both ends with the fewest significant digits (at least 3) that resolve a hundredth of the span, so the
    two labels differ whenever the ends do (3.1185 and 3.4815, not 3.3 and 3.3)."""
    span = abs(hi - lo)
    magnitude = max(abs(lo), abs(hi))
    if span == 0 or magnitude == 0:
        return f"{lo:.4g}", f"{hi:.4g}"
    digits = max(3, math.ceil(math.log10(magnitude / span)) + 3)
    while digits < 17 and f"{lo:.{digits}g}" == f"{hi:.{digits}g}":
        digits += 1
    return f"{lo:.{digits}g}", f"{hi:.{digits}g}"


def histogram_svg(counts: list[int], axis: Axis, low: float | None, high: float | None, units: str = "") -> str:
    total = sum(counts)
    if not total:
        return ""
    lo, hi, width = axis.lo, axis.hi, axis.width
    top = max(counts)
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(v: float) -> float:
        return round(PAD + (v - lo) / (hi - lo) * plot_w, 1)

    bar_w = plot_w / axis.bins
    parts = [f'<svg class="lg-hist" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="histogram of {total} values">']
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
    left_label, right_label = axis_labels(lo, hi)
    parts.append(f'<line x1="{PAD}" x2="{PAD + plot_w}" y1="{PAD + plot_h}" y2="{PAD + plot_h}" stroke="#57606a"/>'
                 f'<text class="lg-axis-lo" x="{PAD}" y="{HEIGHT - 3}" font-size="10">{left_label}</text>'
                 f'<text class="lg-axis-hi" x="{PAD + plot_w}" y="{HEIGHT - 3}" font-size="10" text-anchor="end">'
                 f'{right_label} {escape(units)}</text></svg>')
    return "".join(parts)
