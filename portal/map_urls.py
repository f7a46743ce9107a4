"""Pages and endpoints of the map slice (issue #7)."""

urlpatterns: list = []
