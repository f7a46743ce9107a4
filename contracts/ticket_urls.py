"""Pages of maintenance tickets."""

urlpatterns: list = []
