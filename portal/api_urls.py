from django.urls import include, path
from rest_framework.routers import DefaultRouter

from partners import api as partner_api
from portal import api_views

router = DefaultRouter()
router.register("partners", partner_api.PartnerViewSet, basename="partner")
router.register("memberships", partner_api.MembershipViewSet, basename="membership")
router.register("invitations", partner_api.InvitationViewSet, basename="invitation")
router.register("documents", partner_api.DocumentViewSet, basename="document")
router.register("networks", partner_api.CameraNetworkViewSet, basename="network")

urlpatterns = [
    path("auth/token/", api_views.ObtainTokenView.as_view(), name="api-token"),
    path("me/", api_views.MeView.as_view(), name="api-me"),
    path("", include(router.urls)),
    path("", include("sites.api_urls")),
    path("", include("contracts.api_urls")),
]
