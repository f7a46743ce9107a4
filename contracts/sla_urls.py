"""Pages of SLA reports and breaches."""

urlpatterns: list = []
