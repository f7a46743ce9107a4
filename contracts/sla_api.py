"""API of SLA reports and breaches."""

from rest_framework.routers import SimpleRouter


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the contracts router."""
