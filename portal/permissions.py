"""Who may see which rows. Every list and detail, on pages and in the API, goes through here.

Partner members hold django-guardian object permissions on their Partner (granted to the
partner's role groups by partners.services only). Officers see everything, a Sudin officer only
rows in their kota, an operator everything read-only. Each scoped model names two paths:
`scope_partner_path` (to the owning Partner, "" for Partner itself; a model whose path crosses
a to-many relation also sets `scope_through_many`; one seen by several partners lists them all in
`scope_partner_paths`) and `scope_kota_path` (to the kota Area).
Filtering uses an id subquery, never a list of ids pulled into Python.
"""

from django.apps import apps
from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from portal.errors import PermissionDenied
from portal.roles import is_city_officer, is_operator, is_sudin_officer

VIEW_PARTNER = "partners.view_partner"


def _path(prefix: str, suffix: str) -> str:
    return f"{prefix}__{suffix}" if prefix else suffix


def partner_ids_for(user, perm: str = VIEW_PARTNER) -> QuerySet:
    """A subquery of the ids of partners on which `user` holds `perm` as a member."""
    partner_model = apps.get_model("partners", "Partner")
    return get_objects_for_user(
        user,
        perm,
        klass=partner_model.objects.all(),
        use_groups=True,
        with_superuser=False,
        accept_global_perms=False,
    ).values("pk")


def scope_queryset(user, queryset: QuerySet, perm: str = VIEW_PARTNER) -> QuerySet:
    """The rows of `queryset` that `user` may see."""
    if not user.is_authenticated:
        return queryset.none()
    model = queryset.model
    if is_city_officer(user) or (is_operator(user) and perm == VIEW_PARTNER):
        return queryset
    if is_sudin_officer(user):
        kota_path = getattr(model, "scope_kota_path", None)
        if kota_path is None:
            return queryset
        return queryset.filter(**{kota_path: user.kota_id})
    partner_ids = partner_ids_for(user, perm)
    # A row may answer to more than one partner (a ticket: the responsible party and the host).
    paths = getattr(model, "scope_partner_paths", None) or (model.scope_partner_path,)
    visible = Q()
    for partner_path in paths:
        visible |= Q(**{_path(partner_path, "pk__in"): partner_ids})
    if getattr(model, "scope_through_many", False):
        # A to-many path (a contract's parties) would repeat a row once per matching party.
        return queryset.filter(pk__in=model.objects.filter(visible).values("pk"))
    return queryset.filter(visible)


def get_scoped_or_404(user, queryset: QuerySet, **lookup):
    """One visible object, or 404: another partner's object looks exactly like a missing one."""
    try:
        return scope_queryset(user, queryset).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404 from None


def require_partner_perm(user, partner, perm: str, message: str) -> None:
    """Refuse (403) a member who may see `partner` but lacks `perm` on it."""
    if user.is_superuser or user.has_perm(perm, partner):
        return
    raise PermissionDenied(message, code="permission_denied")
