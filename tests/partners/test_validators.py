import pytest
from django.core.exceptions import ValidationError

from partners.validators import (
    normalize_npwp,
    validate_nib,
    validate_npwp,
)
from portal.documents import safe_display_name


@pytest.mark.parametrize("value", ["1234567890123", "0000000000001"])
def test_validate_nib_accepts_thirteen_digits(value):
    validate_nib(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "123456789012",
        "12345678901234",
        "12345678901a3",
        "1234567890123\n",
        " 1234567890123",
        "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662\u0663",
    ],
)
def test_validate_nib_refuses_anything_else(value):
    with pytest.raises(ValidationError):
        validate_nib(value)


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("01.234.567.8-901.234.5", "0123456789012345"),
        ("0123.4567.8901.2345", "0123456789012345"),
        ("0123 4567 8901 2345", "0123456789012345"),
        ("0123456789012345", "0123456789012345"),
    ],
)
def test_npwp_formats_normalise_to_sixteen_digits(raw, digits):
    validate_npwp(raw)
    assert normalize_npwp(raw) == digits


@pytest.mark.parametrize(
    "value",
    [
        "01.234.567.8-901.234",
        "01234567890123456",
        "0123/4567/8901/2345",
        "abcd.efgh.ijkl.mnop",
        "",
        "\uff10" * 16,
    ],
)
def test_validate_npwp_refuses_wrong_length_or_characters(value):
    with pytest.raises(ValidationError):
        validate_npwp(value)


@pytest.mark.parametrize(
    ("uploaded", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\budi\\Akta Pendirian.pdf", "Akta Pendirian.pdf"),
        ("akta\x00.pdf", "akta_.pdf"),
        ("evil<script>.pdf", "evil_script_.pdf"),
        ("<b>a</b>.pdf", "b_.pdf"),
        ("..", "document.pdf"),
        ("", "document.pdf"),
    ],
)
def test_safe_display_name_keeps_only_a_harmless_base_name(uploaded, shown):
    assert safe_display_name(uploaded) == shown


def test_safe_display_name_is_capped():
    assert len(safe_display_name("a" * 500 + ".pdf")) == 120
