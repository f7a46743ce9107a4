import pytest
from django import forms

from sites.request_forms import PublicFilterForm, QuickSelect

CHOICES = [
    ("", "All of Jakarta"),
    ("31.71.01.1001", "Gambir"),
    ("q", 'Quote " & <tag>'),
    ("Jakarta Selatan", [("31.74.01.1001", "Tebet Timur"), ("31.74.01.1002", "Tebet Barat")]),
]


@pytest.mark.parametrize("value", [None, "", "31.71.01.1001", "q", "31.74.01.1002"])
@pytest.mark.parametrize(
    "attrs", [None, {"id": "id_k", "required": True, "disabled": False, "data-x": "a<b"}]
)
def test_quick_select_writes_what_djangos_select_writes(value, attrs):
    quick = QuickSelect(choices=CHOICES).render("kelurahan", value, attrs)
    django = forms.Select(choices=CHOICES).render("kelurahan", value, attrs)
    assert quick == django


def test_public_filter_form_renders_the_kelurahan_with_the_quick_select(db):
    form = PublicFilterForm({"kelurahan": "31.74.01.1001"})
    html = str(form["kelurahan"])
    assert '<option value="31.74.01.1001" selected>Tebet Timur</option>' in html
    assert html == forms.Select(choices=form.fields["kelurahan"].choices).render(
        "kelurahan", "31.74.01.1001", {"id": "id_kelurahan"}
    )
