# Placeholder: the pages helper replaces this module.
from django.urls import path

from django.views.generic import TemplateView

app_name = "partners"
urlpatterns = [
    path("invitations/<uuid:token>/", TemplateView.as_view(), name="invitation-accept"),
]
