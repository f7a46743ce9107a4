"""Indonesian business identifiers and uploaded PDF checks."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# ASCII digits only and the whole string: `\d` alone takes Arabic-Indic digits, `$` a trailing "\n".
_NIB = re.compile(r"\d{13}", re.ASCII)
_NPWP = re.compile(r"\d{16}", re.ASCII)
_NPWP_SEPARATORS = re.compile(r"[\s.\-]")


def normalize_npwp(value: str) -> str:
    """NPWP is often written 0123.4567.8901.2345 or 01.234.567.8-901.234: keep the digits."""
    return _NPWP_SEPARATORS.sub("", value or "")


def validate_nib(value: str) -> None:
    """Nomor Induk Berusaha from OSS: exactly 13 digits."""
    if not _NIB.fullmatch(value or ""):
        raise ValidationError(_("NIB must be exactly 13 digits."), code="invalid_nib")


def validate_npwp(value: str) -> None:
    """NPWP since 2024 (PMK 112/2022): exactly 16 digits; separators are allowed on input."""
    digits = normalize_npwp(value)
    if not _NPWP.fullmatch(digits):
        raise ValidationError(_("NPWP must be exactly 16 digits."), code="invalid_npwp")
