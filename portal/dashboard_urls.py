"""Pages and endpoints of the dashboard slice (issue #7)."""

urlpatterns: list = []
