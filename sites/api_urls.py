from rest_framework.routers import SimpleRouter

from sites import api

router = SimpleRouter()
router.register("areas", api.AreaViewSet, basename="area")

urlpatterns = router.urls
