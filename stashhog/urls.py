from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from stashhog.health import HealthView

handler400 = "stashhog.api.errors.handler400"
handler403 = "stashhog.api.errors.handler403"
handler404 = "stashhog.api.errors.handler404"
handler500 = "stashhog.api.errors.handler500"

api_urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (no inline script,
    # so the Content-Security-Policy holds); ReDoc's page loads no web fonts.
    re_path(r"^docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"),
            name="swagger-ui"),
    re_path(r"^redoc/?$", SpectacularRedocView.as_view(
        url_name="schema", template_name="stashhog/redoc.html"), name="redoc"),
    path("", include("scenes.urls")),
    path("", include("analysis.urls")),
    path("", include("jobs.urls")),
    path("", include("settings_app.urls")),
    path("", include("automation.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_urlpatterns)),
    path("api-auth/", include("rest_framework.urls")),
    path("", include("jobs.pages")),
]
