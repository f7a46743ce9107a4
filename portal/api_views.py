"""Account endpoints of the API: obtain a token, and who am I."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from partners.selectors import memberships_of
from portal.roles import role_names


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class ObtainTokenView(APIView):
    """Exchange a username and password for an API token (counted by django-axes)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Wrong credentials.")),
            429: OpenApiResponse(
                ErrorSerializer, description=gettext_lazy("Too many failed attempts.")
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Through authenticate() with the request, so axes counts failures and refuses a
        # locked-out user even with the right password. The DRF request (not the HttpRequest)
        # keeps axes' flag away from its middleware, which would answer with an HTML page.
        user = authenticate(request=request, **serializer.validated_data)
        if getattr(request, "axes_locked_out", False):
            minutes = round(settings.AXES_COOLOFF_TIME * 60)
            return Response(
                {
                    "detail": _("Too many failed sign-in attempts. Try again in %(n)d minutes.")
                    % {"n": minutes},
                    "code": "locked_out",
                },
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None:
            return Response(
                {
                    "detail": _("Unable to sign in with this username and password."),
                    "code": "invalid_credentials",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MembershipRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    partner = serializers.IntegerField(source="partner_id")
    partner_name = serializers.CharField(source="partner.name")
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    language = serializers.CharField()
    kota = serializers.CharField(source="kota.code", allow_null=True, default=None)
    roles = serializers.ListField(child=serializers.CharField())
    memberships = MembershipRefSerializer(many=True)


class MeView(APIView):
    """The signed-in user, their city roles and their partner memberships."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        body = MeSerializer(
            {
                "id": user.pk,
                "username": user.username,
                "email": user.email,
                "full_name": user.full_name,
                "language": user.language,
                "kota": user.kota,
                "roles": sorted(role_names(user)),
                "memberships": memberships_of(user=user),
            }
        ).data
        return Response(body)
