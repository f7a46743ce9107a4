"""Pages of partnership agreements (contracts, parties, shares, sites, obligations, documents)."""

urlpatterns: list = []
