"""Writes to accounts."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portal.errors import ServiceError, full_clean_or_raise
from portal.roles import Role


@transaction.atomic
def user_register(
    *,
    username: str,
    email: str,
    full_name: str,
    password: str,
    language: str = settings.LANGUAGE_CODE,
):
    """A person signs up; everyone starts as a resident (partner roles come from invitations)."""
    user_model = get_user_model()
    username = username.strip()
    email = user_model.objects.normalize_email(email.strip()).lower()
    # Unique constraints are case-sensitive; two accounts differing only in case confuse people
    # and the password reset (which matches email case-insensitively).
    if user_model.objects.filter(username__iexact=username).exists():
        raise ServiceError(_("This username is already taken."), field="username")
    if user_model.objects.filter(email__iexact=email).exists():
        raise ServiceError(_("An account with this email address already exists."), field="email")
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    user = user_model(
        username=username, email=email, full_name=full_name.strip(), language=language
    )
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ServiceError(
            error.messages[0], field="password", errors={"password": error.messages}
        ) from None
    user.set_password(password)
    full_clean_or_raise(user)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent sign-up with the same name or address
        raise ServiceError(_("This username or email address is already taken.")) from None
    user.groups.add(Group.objects.get_or_create(name=Role.RESIDENT)[0])
    return user


def user_set_language(*, user, language: str) -> None:
    """Remember the language a signed-in person chose: their emails follow it."""
    if language not in dict(settings.LANGUAGES):
        raise ServiceError(_("Unknown language."), field="language")
    get_user_model().objects.filter(pk=user.pk).update(language=language)
    user.language = language
