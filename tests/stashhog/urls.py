"""A URLconf for the plumbing tests: the real API plus views that fail on purpose."""

from django.urls import include, path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.views import APIView

from settings_app.models import Setting
from stashhog.api.exceptions import Conflict, UpstreamUnavailable
from stashhog.urls import handler400, handler403, handler404, handler500  # noqa: F401


class SettingRow(serializers.ModelSerializer):
    class Meta:
        model = Setting
        fields = ["key", "value"]


class PagedSettings(generics.ListAPIView):
    queryset = Setting.objects.all()
    serializer_class = SettingRow
    sortable = {"key": "key", "updated_at": "updated_at"}
    default_sort = "key"


class Deny(BasePermission):
    def has_permission(self, request, view):
        return False


class Forbidden(APIView):
    permission_classes = [Deny]

    def get(self, request):
        raise AssertionError("not reached")


class Failing(APIView):
    permission_classes = [AllowAny]
    errors = {
        "conflict": Conflict("Plan is already applying"),
        "upstream": UpstreamUnavailable("Stash is unreachable"),
        "crash": RuntimeError("boom with a secret inside"),
    }

    def get(self, request, kind):
        raise self.errors[kind]

    def post(self, request, kind):
        return self.get(request, kind)


urlpatterns = [
    path("test/paged", PagedSettings.as_view()),
    path("test/forbidden", Forbidden.as_view()),
    path("test/fail/<str:kind>", Failing.as_view()),
    path("", include("stashhog.urls")),
]
