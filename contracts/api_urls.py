from rest_framework.routers import SimpleRouter

from contracts import agreement_api, api, sla_api, ticket_api

router = SimpleRouter()
router.register("programmes", api.ProgrammeViewSet, basename="programme")
router.register("applications", api.ApplicationViewSet, basename="application")
router.register("application-sites", api.ApplicationSiteViewSet, basename="application-site")
router.register("review-queue", api.ReviewQueueViewSet, basename="review-queue")
router.register("response-templates", api.ResponseTemplateViewSet, basename="response-template")
agreement_api.register(router)
ticket_api.register(router)
sla_api.register(router)

urlpatterns = router.urls
