"""Roles are Django groups. City-wide roles are fixed groups; partner roles live on Membership."""

from django.contrib.auth.models import Group
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class Role(TextChoices):
    OFFICER_REVIEWER = "officer_reviewer", _("Officer: technical reviewer")
    OFFICER_LEGAL = "officer_legal", _("Officer: legal reviewer")
    OFFICER_APPROVER = "officer_approver", _("Officer: approver")
    SUDIN_OFFICER = "sudin_officer", _("Sudin officer (one kota)")
    OPERATOR = "operator", _("Operator (NOC)")
    RESIDENT = "resident", _("Resident")


# Officers of the Dinas see the whole city; a Sudin officer sees one kota.
CITY_OFFICER_ROLES = {Role.OFFICER_REVIEWER, Role.OFFICER_LEGAL, Role.OFFICER_APPROVER}
OFFICER_ROLES = CITY_OFFICER_ROLES | {Role.SUDIN_OFFICER}


def ensure_role_groups() -> None:
    for role in Role:
        Group.objects.get_or_create(name=role.value)


def role_names(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        user._role_names = cached
    return cached


def is_city_officer(user) -> bool:
    return user.is_authenticated and (
        user.is_superuser or bool(role_names(user) & CITY_OFFICER_ROLES)
    )


def is_officer(user) -> bool:
    """Any Kominfotik officer, city-wide or Sudin."""
    return is_city_officer(user) or bool(role_names(user) & {Role.SUDIN_OFFICER})


def is_sudin_officer(user) -> bool:
    return not is_city_officer(user) and Role.SUDIN_OFFICER in role_names(user)


def is_operator(user) -> bool:
    return Role.OPERATOR in role_names(user)
