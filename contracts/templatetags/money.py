"""Rupiah amounts as Indonesians write them: "Rp 1.250.000.000"."""

from django import template

register = template.Library()


@register.filter
def rupiah(value) -> str:
    """Whole Rupiah with dots as thousand separators; anything that is not a number is kept."""
    if isinstance(value, bool):
        return str(value)
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    grouped = f"{abs(amount):,}".replace(",", ".")
    return f"-Rp {grouped}" if amount < 0 else f"Rp {grouped}"
