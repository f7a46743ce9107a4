"""The one error type services raise. Views turn it into a form error or a 4xx with the message."""

from django.core.exceptions import ValidationError


class ServiceError(Exception):
    """A business rule refused the request; the message is safe to show to the user."""

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        field: str | None = None,
        errors: dict[str, list[str]] | None = None,
    ):
        super().__init__(message)
        self.message = str(message)
        self.code = code
        self.field = field
        self.errors = errors or ({field: [self.message]} if field else {})

    @classmethod
    def from_validation_error(cls, error: ValidationError) -> "ServiceError":
        if hasattr(error, "error_dict"):
            errors = {field: [str(m) for m in msgs] for field, msgs in error.message_dict.items()}
            field, messages = next(iter(errors.items()))
            return cls(messages[0], field=None if field == "__all__" else field, errors=errors)
        return cls(error.messages[0])


class PermissionDenied(ServiceError):
    """The user may see the object but not do this to it."""

    status_code = 403


class Conflict(ServiceError):
    """The object changed under the request (another officer decided first)."""

    status_code = 409


def full_clean_or_raise(instance, *, exclude: list[str] | None = None) -> None:
    """Model validation inside a service, reported as the project's error type."""
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        raise ServiceError.from_validation_error(error) from None
