"""Area pages (the kota → kecamatan → kelurahan tree, rawan levels) and inventory pages (poles,
sites, cameras)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from partners import selectors as partner_selectors
from partners.models import Partner, PartnerKind, PartnerStatus
from portal.errors import Conflict, ServiceError
from portal.errors import PermissionDenied as NotAllowed
from portal.forms import add_service_error
from portal.permissions import VIEW_PARTNER, get_scoped_or_404, partner_ids_for
from portal.roles import is_officer
from sites import csv_import, health_selectors, heartbeat_services, selectors, services
from sites.forms import (
    CameraForm,
    KotaFilterForm,
    LocateForm,
    PoleFilterForm,
    PoleForm,
    PoleImportForm,
    RawanForm,
    SiteActionForm,
    SiteEditForm,
    SiteFilterForm,
    SiteProposeForm,
)
from sites.models import (
    POLE_SLOT_HOLDING_STATUSES,
    Area,
    AreaLevel,
    Camera,
    Site,
    SiteStatus,
    UtilityPole,
)

# Owners and staff of a pole owner manage its poles (see sites.services).
MANAGE_POLES = "partners.manage_partner_networks"


@login_required
def area_list(request: HttpRequest) -> HttpResponse:
    form = KotaFilterForm(request.GET or None)
    kota = form.cleaned_data["kota"] if form.is_valid() else None
    villages = selectors.area_list(level=AreaLevel.VILLAGE).select_related("parent__parent")
    if kota is not None:
        villages = villages.filter(parent__parent=kota)
    # Ordered by Kemendagri code, so the template can regroup by kota, then kecamatan.
    return render(
        request,
        "sites/area_list.html",
        {
            "form": form,
            "kota": kota,
            "villages": villages.order_by("code"),
        },
    )


@login_required
def kelurahan_detail(request: HttpRequest, code: str) -> HttpResponse:
    area = get_object_or_404(
        Area.objects.select_related("parent__parent", "rawan_set_by"),
        code=code,
        level=AreaLevel.VILLAGE,
    )
    officer = is_officer(request.user)
    if request.method == "POST" and not officer:
        raise PermissionDenied
    form = RawanForm(request.POST or None, initial={"rawan_level": area.rawan_level})
    if request.method == "POST" and form.is_valid():
        try:
            services.area_set_rawan(
                area=area,
                actor=request.user,
                level=form.cleaned_data["rawan_level"],
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("The rawan level of %(name)s is now “%(level)s”.")
                % {"name": area.name, "level": area.get_rawan_level_display()},
            )
            return redirect("sites:kelurahan-detail", code=area.code)
    return render(
        request,
        "sites/kelurahan_detail.html",
        {
            "area": area,
            "history": area.rawan_changes.select_related("actor").order_by("-created_at", "-id"),
            "form": form if officer else None,
        },
    )


@login_required
def locate(request: HttpRequest) -> HttpResponse:
    form = LocateForm(request.GET or None)
    area = None
    if form.is_valid():
        try:
            area = selectors.kelurahan_at(
                lat=form.cleaned_data["lat"], lon=form.cleaned_data["lon"]
            )
        except ServiceError as error:
            add_service_error(form, error)
    return render(request, "sites/locate.html", {"form": form, "area": area})


# --- Inventory: poles, sites, cameras ---------------------------------------------------------
# Objects are looked up through the permission scope (another partner's object is a 404); each
# write is one service call. Camera passwords are never put into a page.


def _partners_for(user, perm: str = VIEW_PARTNER) -> QuerySet[Partner]:
    """The partners `user` may act for in a form: their own (with `perm`), or, for officers,
    every partner they may see."""
    if is_officer(user):
        return partner_selectors.partner_list(user=user)
    return Partner.objects.filter(pk__in=partner_ids_for(user, perm)).order_by("name")


def _pole_owners_for(user) -> QuerySet[Partner]:
    return Partner.objects.filter(
        pk__in=partner_ids_for(user, MANAGE_POLES), kind=PartnerKind.POLE_OWNER
    ).order_by("name")


def _run(request: HttpRequest, form, call, *, success: str) -> object | None:
    """One service call for a valid form: its result, or None with the error on the form."""
    try:
        result = call()
    except Conflict as error:
        messages.error(request, error.message)
        form.add_error(None, error.message)
        return None
    except ServiceError as error:
        add_service_error(form, error)
        return None
    messages.success(request, success)
    return result


def _paged(request: HttpRequest, rows) -> object:
    return Paginator(rows, 50).get_page(request.GET.get("page"))


# --- poles ----------------------------------------------------------------------------------


@login_required
def pole_list(request: HttpRequest) -> HttpResponse:
    filter_form = PoleFilterForm(request.GET or None)
    poles = selectors.pole_list(user=request.user, filters=filter_form.filters())
    page = _paged(request, poles)
    return render(
        request,
        "sites/pole_list.html",
        {
            "filter_form": filter_form,
            "page": page,
            "poles": page.object_list,
            "can_add": _pole_owners_for(request.user).exists(),
        },
    )


@login_required
def pole_create(request: HttpRequest) -> HttpResponse:
    owners = _pole_owners_for(request.user)
    if not owners.exists():
        raise Forbidden
    form = PoleForm(request.POST or None, owners=owners)
    if request.method == "POST" and form.is_valid():
        pole = _run(
            request,
            form,
            lambda: services.pole_create(actor=request.user, **form.cleaned_data),
            success=_("The pole is registered."),
        )
        if pole:
            return redirect("sites:pole-detail", pk=pole.pk)
    return render(request, "sites/pole_form.html", {"form": form, "pole": None})


def _pole_or_404(request: HttpRequest, pk: int) -> UtilityPole:
    return get_scoped_or_404(
        request.user,
        UtilityPole.objects.select_related("owner", "kelurahan__parent__parent"),
        pk=pk,
    )


@login_required
def pole_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pole = _pole_or_404(request, pk)
    return render(
        request,
        "sites/pole_detail.html",
        {
            "pole": pole,
            # Sites of other hosts on this pole are theirs: only the slot count shows them.
            "sites": selectors.site_list(user=request.user, filters={"pole": pole}),
            "can_edit": request.user.has_perm(MANAGE_POLES, pole.owner),
        },
    )


@login_required
def pole_edit(request: HttpRequest, pk: int) -> HttpResponse:
    pole = _pole_or_404(request, pk)
    if not request.user.has_perm(MANAGE_POLES, pole.owner):
        raise Forbidden
    form = PoleForm(request.POST or None, initial=model_to_dict(pole))
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        if _run(
            request,
            form,
            lambda: services.pole_update(pole=pole, actor=request.user, **changed),
            success=_("The pole is saved."),
        ):
            return redirect("sites:pole-detail", pk=pole.pk)
    return render(request, "sites/pole_form.html", {"form": form, "pole": pole})


@login_required
def pole_import(request: HttpRequest) -> HttpResponse:
    owners = _pole_owners_for(request.user)
    if not owners.exists():
        raise Forbidden
    form = PoleImportForm(request.POST or None, request.FILES or None, owners=owners)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = services.poles_import_csv(
                owner=form.cleaned_data["owner"],
                actor=request.user,
                file=form.cleaned_data["file"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            if report.errors:
                messages.error(request, _("Some rows were rejected: nothing was imported."))
            else:
                messages.success(
                    request,
                    _("%(created)d pole(s) created, %(updated)d updated.")
                    % {"created": len(report.created), "updated": len(report.updated)},
                )
    return render(
        request,
        "sites/pole_import.html",
        {"form": form, "report": report, "columns": csv_import.COLUMNS},
    )


# --- sites ----------------------------------------------------------------------------------

# name → (service, statuses it applies to, who may take it, button label, reason keyword)
SITE_ACTIONS = {
    "survey": (
        services.site_survey,
        {SiteStatus.PROPOSED},
        "officer",
        gettext_lazy("Mark surveyed"),
        "notes",
    ),
    "approve": (
        services.site_approve,
        {SiteStatus.PROPOSED, SiteStatus.SURVEYED},
        "officer",
        gettext_lazy("Approve"),
        "reason",
    ),
    "reject": (
        services.site_reject,
        {SiteStatus.PROPOSED, SiteStatus.SURVEYED},
        "officer",
        gettext_lazy("Reject"),
        "reason",
    ),
    "start-installation": (
        services.site_start_installation,
        {SiteStatus.APPROVED},
        "host",
        gettext_lazy("Start installation"),
        None,
    ),
    "confirm-installation": (
        services.site_confirm_installation,
        {SiteStatus.INSTALLING},
        "officer",
        gettext_lazy("Confirm installation"),
        "reason",
    ),
    "suspend": (
        services.site_suspend,
        {SiteStatus.ACTIVE},
        "officer",
        gettext_lazy("Suspend"),
        "reason",
    ),
    "resume": (
        services.site_resume,
        {SiteStatus.SUSPENDED},
        "officer",
        gettext_lazy("Resume"),
        "reason",
    ),
    "decommission": (
        services.site_decommission,
        set(POLE_SLOT_HOLDING_STATUSES),
        "officer",
        gettext_lazy("Decommission"),
        "reason",
    ),
}


@login_required
def site_list(request: HttpRequest) -> HttpResponse:
    filter_form = SiteFilterForm(request.GET or None)
    sites = selectors.site_list(user=request.user, filters=filter_form.filters())
    page = _paged(request, sites)
    return render(
        request,
        "sites/site_list.html",
        {
            "filter_form": filter_form,
            "page": page,
            "sites": page.object_list,
            "can_propose": _partners_for(request.user).exists(),
        },
    )


@login_required
def site_propose(request: HttpRequest) -> HttpResponse:
    partners = _partners_for(request.user)
    if not partners.exists():
        raise Forbidden
    form = SiteProposeForm(request.POST or None, partners=partners)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        pole_id = data.pop("pole")
        # Any pole may be named: a site on another owner's pole needs that owner's consent in
        # the hosting application, not visibility of the pole here.
        pole = UtilityPole.objects.filter(pk=pole_id).first() if pole_id else None
        if pole_id and pole is None:
            form.add_error("pole", _("There is no pole with this number."))
        else:
            site = _run(
                request,
                form,
                lambda: services.site_propose(actor=request.user, pole=pole, **data),
                success=_("The site is proposed. An officer will survey it."),
            )
            if site:
                return redirect("sites:site-detail", pk=site.pk)
    return render(request, "sites/site_form.html", {"form": form, "site": None})


def _site_or_404(request: HttpRequest, pk: int) -> Site:
    return get_scoped_or_404(
        request.user,
        Site.objects.select_related(
            "host_partner", "pole__owner", "kelurahan__parent__parent", "created_by"
        ),
        pk=pk,
    )


def _site_actions(user, site: Site) -> list[tuple[str, str]]:
    officer = is_officer(user)
    member = user.has_perm(VIEW_PARTNER, site.host_partner)
    return [
        (name, label)
        for name, (_service, statuses, who, label, _kw) in SITE_ACTIONS.items()
        if site.status in statuses and (officer or (who == "host" and member))
    ]


@login_required
def site_detail(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk)
    user = request.user
    history = list(selectors.site_history(site=site))
    labels = dict(SiteStatus.choices)
    for change in history:
        change.old_label = labels.get(change.old_status, change.old_status)
        change.new_label = labels.get(change.new_status, change.new_status)
    camera_ok = site.status in services.CAMERA_SITE_STATUSES and (
        is_officer(user) or user.has_perm(VIEW_PARTNER, site.host_partner)
    )
    return render(
        request,
        "sites/site_detail.html",
        {
            "site": site,
            "history": history,
            "cameras": selectors.site_cameras(user=user, site=site),
            "actions": _site_actions(user, site),
            "action_form": SiteActionForm(),
            "can_edit": site.status == SiteStatus.PROPOSED
            and (is_officer(user) or user.has_perm(VIEW_PARTNER, site.host_partner)),
            "can_add_camera": camera_ok,
        },
    )


@login_required
def site_edit(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk)
    form = SiteEditForm(request.POST or None, initial=model_to_dict(site))
    if request.method == "POST" and form.is_valid():
        saved = _run(
            request,
            form,
            lambda: services.site_update(site=site, actor=request.user, **form.cleaned_data),
            success=_("The site is saved."),
        )
        if saved:
            return redirect("sites:site-detail", pk=site.pk)
    return render(request, "sites/site_form.html", {"form": form, "site": site})


@login_required
def site_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in SITE_ACTIONS:
        raise Http404
    site = _site_or_404(request, pk)
    service, _statuses, _who, label, keyword = SITE_ACTIONS[action]
    # A bare button press (no fields) is still a submission.
    form = SiteActionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        extra = {keyword: form.cleaned_data["reason"]} if keyword else {}
        try:
            service(site=site, actor=request.user, **extra)
        except Conflict as error:
            # Someone else moved the site first: show its current state.
            messages.error(request, error.message)
            return redirect("sites:site-detail", pk=site.pk)
        except NotAllowed as error:
            raise Forbidden(error.message) from None
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("Done: %(action)s. The site is now “%(status)s”.")
                % {"action": label, "status": site.get_status_display()},
            )
            return redirect("sites:site-detail", pk=site.pk)
    return render(
        request, "sites/site_action.html", {"form": form, "site": site, "action_label": label}
    )


# --- cameras --------------------------------------------------------------------------------


@login_required
def camera_list(request: HttpRequest) -> HttpResponse:
    page = _paged(request, selectors.camera_list(user=request.user))
    return render(request, "sites/camera_list.html", {"page": page, "cameras": page.object_list})


@login_required
def camera_create(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk)
    owners = _partners_for(request.user).filter(status=PartnerStatus.VERIFIED)
    form = CameraForm(request.POST or None, owners=owners, initial={"owner": site.host_partner_id})
    if request.method == "POST" and form.is_valid():
        details = dict(form.cleaned_data)
        if details.pop("push"):
            issued = _run(
                request,
                form,
                lambda: heartbeat_services.camera_register_push(
                    site=site, actor=request.user, **details
                ),
                success=_("The camera is registered."),
            )
            if issued:
                return _show_token(request, issued)
        else:
            camera = _run(
                request,
                form,
                lambda: services.camera_register(site=site, actor=request.user, **details),
                success=_("The camera is registered."),
            )
            if camera:
                return redirect("sites:camera-detail", pk=camera.pk)
    return render(request, "sites/camera_form.html", {"form": form, "site": site, "camera": None})


def _show_token(request: HttpRequest, issued: heartbeat_services.IssuedKey) -> HttpResponse:
    # Rendered in the POST's own answer and never stored: reloading cannot show it again.
    response = render(
        request,
        "sites/camera_token.html",
        {"camera": issued.key.camera, "key": issued.key, "token": issued.token},
    )
    response["Cache-Control"] = "no-store"
    return response


HEARTBEAT_ACTIONS = {
    "issue": heartbeat_services.heartbeat_key_issue,
    "rotate": heartbeat_services.heartbeat_key_rotate,
    "revoke": heartbeat_services.heartbeat_key_revoke,
}


@login_required
@require_POST
def camera_heartbeat(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Switch a camera to heartbeats, give it a new token, or go back to probing it."""
    camera = _camera_or_404(request, pk)
    if action not in HEARTBEAT_ACTIONS:
        raise Http404
    try:
        result = HEARTBEAT_ACTIONS[action](camera=camera, actor=request.user)
    except NotAllowed as error:
        raise Forbidden(error.message) from None
    except Conflict as error:
        messages.error(request, error.message)
        return redirect("sites:camera-detail", pk=camera.pk)
    if action == "revoke":
        messages.success(request, _("The token is revoked: the sweeps probe the camera again."))
        return redirect("sites:camera-detail", pk=camera.pk)
    return _show_token(request, result)


def _camera_or_404(request: HttpRequest, pk: int) -> Camera:
    return get_scoped_or_404(
        request.user,
        Camera.objects.select_related("owner", "site__kelurahan__parent__parent"),
        pk=pk,
    )


@login_required
def camera_detail(request: HttpRequest, pk: int) -> HttpResponse:
    camera = _camera_or_404(request, pk)
    return render(
        request,
        "sites/camera_detail.html",
        {"camera": camera, "heartbeat": health_selectors.heartbeat_key(camera)},
    )


@login_required
def camera_edit(request: HttpRequest, pk: int) -> HttpResponse:
    camera = _camera_or_404(request, pk)
    # Neither credential goes back into the page: both inputs start empty.
    initial = model_to_dict(camera, exclude=["username", "password_encrypted"])
    form = CameraForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if not fields.get("username"):
            fields.pop("username", None)
        if _run(
            request,
            form,
            lambda: services.camera_update(camera=camera, actor=request.user, **fields),
            success=_("The camera is saved."),
        ):
            return redirect("sites:camera-detail", pk=camera.pk)
    return render(
        request, "sites/camera_form.html", {"form": form, "site": camera.site, "camera": camera}
    )
