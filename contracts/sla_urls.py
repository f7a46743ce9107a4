"""Pages of SLA reports and breaches."""

from django.urls import path

from contracts import sla_views

urlpatterns = [
    path("contracts/<int:pk>/sla/", sla_views.contract_sla, name="contract-sla"),
    path("partners-sla/", sla_views.partner_sla, name="partner-sla"),
    path("breaches/", sla_views.breach_list, name="breach-list"),
    path("breaches/<int:pk>/", sla_views.breach_detail, name="breach-detail"),
]
