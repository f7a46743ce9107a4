from rest_framework.routers import SimpleRouter

from sites import api

router = SimpleRouter()
router.register("areas", api.AreaViewSet, basename="area")
router.register("poles", api.PoleViewSet, basename="pole")
router.register("sites", api.SiteViewSet, basename="site")
router.register("cameras", api.CameraViewSet, basename="camera")

urlpatterns = router.urls
