"""Pages and endpoints of the public slice (issue #7)."""

urlpatterns: list = []
