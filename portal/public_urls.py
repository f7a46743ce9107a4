"""Pages and endpoints of the public slice (issue #7).

portal/urls.py includes this module before the old `home` route, so the name "home" resolves
to the landing page here.
"""

from django.urls import path

from portal import public_views

urlpatterns = [
    path("", public_views.home, name="home"),
    path("kelurahan/", public_views.kelurahan_list, name="public-kelurahan-list"),
    path("kelurahan/<str:code>/", public_views.kelurahan_detail, name="public-kelurahan"),
    path("partners/how-to/", public_views.partner_guide, name="public-partner-guide"),
    path(
        "technical-requirements/",
        public_views.technical_requirements,
        name="public-technical-requirements",
    ),
]
