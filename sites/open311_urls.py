"""Open311 GeoReport v2 under /open311/v2/: every resource ends in .json or .xml."""

from django.urls import re_path

from sites import open311

app_name = "open311"

_FORMAT = r"\.(?P<fmt>json|xml)$"
# One path segment without a dot, so the suffix is always the format.
_ID = r"(?P<{}>[^/.]+)"

urlpatterns = [
    re_path(r"^discovery" + _FORMAT, open311.discovery, name="discovery"),
    re_path(r"^services" + _FORMAT, open311.service_list, name="services"),
    re_path(
        r"^services/" + _ID.format("service_code") + _FORMAT,
        open311.service_definition,
        name="service",
    ),
    re_path(r"^requests" + _FORMAT, open311.requests_view, name="requests"),
    re_path(
        r"^requests/" + _ID.format("service_request_id") + _FORMAT,
        open311.request_detail,
        name="request",
    ),
    re_path(r"^tokens/" + _ID.format("token") + _FORMAT, open311.token_detail, name="token"),
    re_path(r"^(?P<path>.*)$", open311.not_found),
]
