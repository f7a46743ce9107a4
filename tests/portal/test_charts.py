"""portal.charts: inline SVG line and bar charts, accessible, escaped and localised."""

import re

import pytest
from django.utils import translation
from django.utils.safestring import SafeString

from portal.charts import bar_chart, format_value, line_chart

CHARTS = [line_chart, bar_chart]


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_escapes_labels_and_title(chart):
    html = chart(
        [("<script>alert(1)</script>", 3), ('"Jan" & co', 5)],
        title="<b>Requests</b> & more",
    )

    assert isinstance(html, SafeString)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;Jan&quot; &amp; co" in html
    assert "<b>" not in html
    assert "&lt;b&gt;Requests&lt;/b&gt; &amp; more" in html


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_is_an_image_with_an_accessible_title_and_description(chart):
    with translation.override("en"):
        html = chart([("Jan", 1), ("Feb", 4), ("Mar", 2)], title="Requests per month")

    svg = re.search(r"<svg [^>]*>", html).group(0)
    assert 'role="img"' in svg
    title_id, desc_id = re.search(r'aria-labelledby="([^" ]+) ([^"]+)"', svg).groups()
    assert f'<title id="{title_id}">Requests per month</title>' in html
    description = re.search(rf'<desc id="{desc_id}">([^<]*)</desc>', html).group(1)
    assert description == "From Jan to Mar: lowest 1, highest 4, latest 2."


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("points", [[], [("Jan", None), ("Feb", None)]])
def test_chart_without_data_says_so_instead_of_drawing(chart, points):
    with translation.override("en"):
        html = chart(points, title="Availability <per day>")

    assert "<svg" not in html
    assert "No data yet." in html
    assert "Availability &lt;per day&gt;" in html


def test_line_chart_breaks_the_line_where_a_day_has_no_data():
    html = line_chart(
        [("1", 99.0), ("2", 98.0), ("3", None), ("4", 97.0), ("5", 96.0)], title="t", y_max=100
    )

    assert html.count("<polyline") == 2
    assert html.count("<circle") == 4


def test_line_chart_with_a_single_point_draws_its_dot():
    html = line_chart([("Today", 42)], title="t")

    assert html.count("<circle") == 1
    assert "<polyline" not in html  # a line needs two points


def test_bar_chart_draws_a_bar_per_value_and_skips_gaps():
    html = bar_chart([("a", 0), ("b", 7), ("c", None), ("d", 3)], title="t")

    assert html.count("<rect") == 3
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', html)]
    assert heights[0] == 0
    assert heights[1] > heights[2] > 0


def test_chart_values_use_the_local_number_format():
    points = [("Jan", 12345), ("Feb", 99.5)]
    with translation.override("id"):
        indonesian = line_chart(points, title="t", unit="%")
        assert format_value(1234567) == "1.234.567"
    with translation.override("en"):
        english = line_chart(points, title="t", unit="%")
        assert format_value(1234567) == "1,234,567"

    assert "Feb: 99,5%" in indonesian
    assert "Jan: 12.345%" in indonesian
    assert "Feb: 99.5%" in english
    assert "Jan: 12,345%" in english


def test_chart_scale_tops_out_at_y_max_or_a_round_number():
    with translation.override("en"):
        fixed = line_chart([("a", 40), ("b", 60)], title="t", unit="%", y_max=100)
        rounded = bar_chart([("a", 3), ("b", 17)], title="t")

    assert ">100%</text>" in fixed
    assert ">20</text>" in rounded


def test_format_value_puts_a_unit_after_the_number():
    with translation.override("en"):
        assert format_value(3, "cameras") == "3\N{NO-BREAK SPACE}cameras"
        assert format_value(None, "%") == "no data"
