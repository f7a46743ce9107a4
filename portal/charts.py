"""Small server-side charts: inline SVG, no JavaScript, no chart library.

The API is two functions; both take the points to draw, oldest first, and return safe markup
(a <figure> holding an <svg role="img"> with a <title> and a <desc> that screen readers read):

    line_chart(points, *, title, unit="", height=120, y_max=None) -> SafeString
    bar_chart(points, *, title, unit="", height=120, y_max=None) -> SafeString

`points` is a list of (label, value): the label is shown as given (dates already formatted by
the caller), the value is a number or None for "no data" (a gap in the line, no bar). `unit`
follows each value ("%" for shares). The vertical scale starts at 0 and ends at `y_max`, or at
a round number above the largest value. Every label and the title are escaped; values are
printed in the active language's number format (Indonesian "99,5", English "99.5").
"""

import math
import uuid
from collections.abc import Sequence

from django.utils import formats
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

Point = tuple[str, float | int | None]

# A phone's width in CSS pixels, so that 11px text stays readable when the SVG scales down.
WIDTH = 320
PAD_LEFT = 34
PAD_RIGHT = 8
PAD_TOP = 8
PAD_BOTTOM = 20


def format_value(value: float | int | None, unit: str = "") -> str:
    """A value as the chart prints it: localised, at most one decimal, with its unit."""
    if value is None:
        return _("no data")
    decimals = 0 if float(value).is_integer() else 1
    number = formats.number_format(
        round(value, decimals), decimal_pos=decimals, use_l10n=True, force_grouping=True
    )
    if not unit:
        return number
    # "99,5%" but "12 cameras": a percent sign sticks to its number.
    return f"{number}{unit}" if unit == "%" else f"{number}\N{NO-BREAK SPACE}{unit}"


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above `value`, so the top gridline reads well."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        ceiling = step * 10**exponent
        if ceiling >= value:
            return ceiling
    return 10 ** (exponent + 1)  # pragma: no cover - the loop always returns


def _scale(points: Sequence[Point], y_max: float | None) -> float:
    values = [value for _label, value in points if value is not None]
    return float(y_max) if y_max else _nice_ceiling(max(values, default=0))


def _summary(points: Sequence[Point], unit: str) -> str:
    values = [value for _label, value in points if value is not None]
    return _("From %(first)s to %(last)s: lowest %(low)s, highest %(high)s, latest %(latest)s.") % {
        "first": points[0][0],
        "last": points[-1][0],
        "low": format_value(min(values), unit),
        "high": format_value(max(values), unit),
        "latest": format_value(points[-1][1], unit),
    }


def _empty(title: str) -> SafeString:
    return format_html(
        '<figure class="chart chart-empty"><figcaption>{}</figcaption>'
        '<p class="muted">{}</p></figure>',
        title,
        _("No data yet."),
    )


def _frame(
    points: Sequence[Point],
    *,
    title: str,
    unit: str,
    height: int,
    top: float,
    body: list[str],
    centred: bool,
) -> SafeString:
    """The <figure>, the accessible <svg> around `body`, gridlines and axis labels."""
    chart_id = f"chart-{uuid.uuid4().hex[:8]}"
    bottom = height - PAD_BOTTOM
    parts = [
        f'<figure class="chart"><figcaption id="{chart_id}-caption">{escape(title)}</figcaption>',
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        'xmlns="http://www.w3.org/2000/svg" focusable="false">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_summary(points, unit))}</desc>',
        f'<g class="chart-grid" aria-hidden="true">'
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{WIDTH - PAD_RIGHT}" y2="{PAD_TOP}"/>'
        f'<line x1="{PAD_LEFT}" y1="{bottom}" x2="{WIDTH - PAD_RIGHT}" y2="{bottom}"/>'
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" text-anchor="end">'
        f"{escape(format_value(top, unit))}</text>"
        f'<text x="{PAD_LEFT - 4}" y="{bottom}" text-anchor="end">'
        f"{escape(format_value(0, unit))}</text></g>",
        *body,
        _x_labels(points, height, centred=centred),
        "</svg></figure>",
    ]
    # Every piece above is a literal, a number or escaped.
    return mark_safe("".join(parts))


def _x(index: int, count: int, *, centred: bool) -> float:
    span = WIDTH - PAD_LEFT - PAD_RIGHT
    if centred:  # bars sit in the middle of their slot
        return PAD_LEFT + span * (index + 0.5) / count
    return PAD_LEFT + (span * index / (count - 1) if count > 1 else span / 2)


def _y(value: float, top: float, height: int) -> float:
    plot = height - PAD_TOP - PAD_BOTTOM
    return height - PAD_BOTTOM - plot * min(max(value, 0), top) / top


def _x_labels(points: Sequence[Point], height: int, *, centred: bool) -> str:
    """First, middle and last labels: enough to read the time span on a phone."""
    count = len(points)
    labels = []
    for index in sorted({0, count // 2, count - 1}):
        if count == 1:
            anchor, x = "middle", _x(0, 1, centred=centred)
        elif index == 0:
            anchor, x = "start", PAD_LEFT
        elif index == count - 1:
            anchor, x = "end", WIDTH - PAD_RIGHT
        else:
            anchor, x = "middle", _x(index, count, centred=centred)
        labels.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">'
            f"{escape(points[index][0])}</text>"
        )
    return f'<g class="chart-labels" aria-hidden="true">{"".join(labels)}</g>'


def _point_title(label: str, value, unit: str) -> str:
    return escape(f"{label}: {format_value(value, unit)}")


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    unit: str = "",
    height: int = 120,
    y_max: float | None = None,
) -> SafeString:
    """A line over `points`; a None value breaks the line. See the module docstring."""
    if not any(value is not None for _label, value in points):
        return _empty(title)
    top = _scale(points, y_max)
    count = len(points)
    segments: list[list[str]] = [[]]
    dots = []
    for index, (label, value) in enumerate(points):
        if value is None:
            segments.append([])
            continue
        x, y = _x(index, count, centred=False), _y(value, top, height)
        segments[-1].append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
            f"<title>{_point_title(label, value, unit)}</title></circle>"
        )
    lines = [
        f'<polyline points="{" ".join(segment)}"/>' for segment in segments if len(segment) > 1
    ]
    body = [
        f'<g class="chart-line">{"".join(lines)}</g>',
        f'<g class="chart-dots">{"".join(dots)}</g>',
    ]
    return _frame(points, title=title, unit=unit, height=height, top=top, body=body, centred=False)


def bar_chart(
    points: Sequence[Point],
    *,
    title: str,
    unit: str = "",
    height: int = 120,
    y_max: float | None = None,
) -> SafeString:
    """One bar per point; a None value leaves its slot empty. See the module docstring."""
    if not any(value is not None for _label, value in points):
        return _empty(title)
    top = _scale(points, y_max)
    count = len(points)
    slot = (WIDTH - PAD_LEFT - PAD_RIGHT) / count
    bar_width = max(slot * 0.7, 1)
    bottom = height - PAD_BOTTOM
    bars = []
    for index, (label, value) in enumerate(points):
        if value is None:
            continue
        y = _y(value, top, height)
        x = _x(index, count, centred=True) - bar_width / 2
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{bottom - y:.1f}">'
            f"<title>{_point_title(label, value, unit)}</title></rect>"
        )
    body = [f'<g class="chart-bars">{"".join(bars)}</g>']
    return _frame(points, title=title, unit=unit, height=height, top=top, body=body, centred=True)
