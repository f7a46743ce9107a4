"""Sign-up. Sign-in, sign-out and passwords are Django's own views with our templates."""

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters

from portal import services
from portal.errors import ServiceError
from portal.forms import RegistrationForm, add_service_error


@sensitive_post_parameters("password", "password_confirm")
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(
                username=data["username"],
                email=data["email"],
                full_name=data["full_name"],
                password=data["password"],
                language=translation.get_language(),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            # Several backends are configured; the new account signs in with the model one.
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome, %(name)s. Your account is ready.")
                % {"name": user.full_name or user.username},
            )
            return redirect("dashboard")
    return render(request, "registration/register.html", {"form": form})
