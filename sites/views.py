"""Area pages: the kota → kecamatan → kelurahan tree, a kelurahan's rawan level and its history."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from portal.errors import ServiceError
from portal.forms import add_service_error
from portal.roles import is_officer
from sites import selectors, services
from sites.forms import KotaFilterForm, LocateForm, RawanForm
from sites.models import Area, AreaLevel


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
