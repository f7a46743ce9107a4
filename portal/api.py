"""API plumbing shared by every app: the scoped base viewset and the error format."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import ServiceError
from portal.permissions import VIEW_PARTNER, scope_queryset


class ScopedViewSet(viewsets.GenericViewSet):
    """Base for every partner-owned resource: rows the user may not see do not exist (404).

    Subclasses set `queryset`; `get_queryset` narrows it through portal.permissions, and
    `get_object` (used by every detail route and action) only looks inside that.
    """

    scope_perm = VIEW_PARTNER

    def get_queryset(self):
        return scope_queryset(self.request.user, super().get_queryset(), self.scope_perm)


class ScopedReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    pass


def exception_handler(exc, context):
    """ServiceError → 400/403/409/429 with {"detail", "code", "errors"}; the rest as DRF does."""
    if isinstance(exc, ServiceError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.errors:
            body["errors"] = exc.errors
        response = Response(body, status=exc.status_code)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            # portal.ratelimit.RateLimited (429): tell the client when to try again.
            response["Retry-After"] = str(retry_after)
        return response
    if isinstance(exc, DjangoValidationError):
        error = ServiceError.from_validation_error(exc)
        return Response(
            {"detail": error.message, "code": "invalid", "errors": error.errors}, status=400
        )
    if isinstance(exc, DRFValidationError):
        # One error shape for clients: serializer errors look like service errors.
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first = next(iter(errors.values()), [""])
        message = first[0] if isinstance(first, list) and first else str(first)
        return Response(
            {"detail": str(message), "code": "invalid", "errors": errors}, status=exc.status_code
        )
    return drf_exception_handler(exc, context)
