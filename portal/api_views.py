# Placeholder: the API helper replaces this module.
from rest_framework.views import APIView


class ObtainTokenView(APIView):
    pass


class MeView(APIView):
    pass
