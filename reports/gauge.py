"""A small inline SVG gauge: where a value sits between its limits."""

from __future__ import annotations

from linegate.plans import MeasurementRecord

WIDTH, HEIGHT = 140, 14


def gauge_svg(m: MeasurementRecord) -> str:
    """SVG for a numeric measurement with at least one bound, else ''."""
    value = m.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if m.low is None and m.high is None:
        return ""
    if m.low is not None:
        low = m.low
    else:
        assert m.high is not None
        low = min(value, m.high) - abs(m.high or 1) * 0.5
    high = m.high if m.high is not None else max(value, low) + abs(low or 1) * 0.5
    span = (high - low) or 1.0
    lo_view, hi_view = low - span * 0.25, high + span * 0.25

    def x(v: float) -> float:
        v = min(max(v, lo_view), hi_view)
        return round((v - lo_view) / (hi_view - lo_view) * WIDTH, 1)

    marg_lo = m.marginal_low if m.marginal_low is not None else low
    marg_hi = m.marginal_high if m.marginal_high is not None else high
    colour = {"pass": "#1a7f37", "marginal": "#b7791f", "fail": "#cf222e"}[m.status.value]
    parts = [
        f'<svg class="lg-gauge" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{m.name} {value:g} within {low:g}..{high:g}">',
        f'<rect x="0" y="4" width="{WIDTH}" height="6" fill="#f3d0d0"/>',
        f'<rect x="{x(low)}" y="4" width="{x(high) - x(low)}" height="6" fill="#f6e3b4"/>',
        f'<rect x="{x(marg_lo)}" y="4" width="{x(marg_hi) - x(marg_lo)}" height="6" fill="#c8ebd0"/>',
        f'<rect x="{x(value) - 1.5}" y="0" width="3" height="{HEIGHT}" fill="{colour}"/>',
        "</svg>",
    ]
    return "".join(parts)
