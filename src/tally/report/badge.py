"""An SVG badge of the total coverage, in the flat style of shields.io, coloured by score."""

from __future__ import annotations

from tally.analysis.analyzer import Analyses
from tally.analysis.results import display_covered

__all__ = ["BadgeReport", "badge_colour"]

# (lowest percent, colour): shields.io's palette from red to bright green.
_SCALE = (
    (90.0, "#4c1"),
    (80.0, "#97ca00"),
    (70.0, "#a4a61d"),
    (60.0, "#dfb317"),
    (50.0, "#fe7d37"),
    (0.0, "#e05d44"),
)
_CHAR_WIDTH = 7  # px per character of 11px Verdana, near enough for digits and letters


def badge_colour(percent: float) -> str:
    """The badge colour for a coverage percentage."""
    return next(colour for lowest, colour in _SCALE if percent >= lowest)


class BadgeReport:
    """Renders the total as a small SVG: "coverage | 87%"."""

    what = "badge"

    def __init__(self, precision: int = 0, label: str = "coverage") -> None:
        self.precision = precision
        self.label = label

    def render(self, results: Analyses) -> str:
        """The badge's SVG text."""
        percent = results.total.pc_covered
        value = display_covered(percent, self.precision) + "%"
        left = len(self.label) * _CHAR_WIDTH + 10
        right = len(value) * _CHAR_WIDTH + 10
        width = left + right
        colour = badge_colour(percent)
        return f"""\
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" \
aria-label="{self.label}: {value}">
  <title>{self.label}: {value}</title>
  <linearGradient id="s" x2="0" y2="100%">
    <stop offset="0" stop-color="#bbb" stop-opacity=".1"/>
    <stop offset="1" stop-opacity=".1"/>
  </linearGradient>
  <clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>
  <g clip-path="url(#r)">
    <rect width="{left}" height="20" fill="#555"/>
    <rect x="{left}" width="{right}" height="20" fill="{colour}"/>
    <rect width="{width}" height="20" fill="url(#s)"/>
  </g>
  <g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" \
font-size="11">
    <text x="{left / 2}" y="15" fill="#010101" fill-opacity=".3">{self.label}</text>
    <text x="{left / 2}" y="14">{self.label}</text>
    <text x="{left + right / 2}" y="15" fill="#010101" fill-opacity=".3">{value}</text>
    <text x="{left + right / 2}" y="14">{value}</text>
  </g>
</svg>
"""
