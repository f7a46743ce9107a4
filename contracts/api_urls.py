from rest_framework.routers import SimpleRouter

from contracts import api

router = SimpleRouter()
router.register("programmes", api.ProgrammeViewSet, basename="programme")
router.register("applications", api.ApplicationViewSet, basename="application")
router.register("application-sites", api.ApplicationSiteViewSet, basename="application-site")
router.register("review-queue", api.ReviewQueueViewSet, basename="review-queue")
router.register("response-templates", api.ResponseTemplateViewSet, basename="response-template")

urlpatterns = router.urls
