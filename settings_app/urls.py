"""The settings object is a singleton, not a collection, so its routes are spelled out."""

from django.urls import re_path

from settings_app.views import SettingsViewSet
from stashhog.request_threads import own_thread

urlpatterns = [
    re_path(r"^settings/?$",
            SettingsViewSet.as_view({"get": "retrieve", "put": "update"}), name="settings"),
    re_path(r"^settings/test-stash/?$",
            own_thread(SettingsViewSet.as_view({"post": "test_stash"})),
            name="settings-test-stash"),
    re_path(r"^settings/test-openai/?$",
            own_thread(SettingsViewSet.as_view({"post": "test_openai"})),
            name="settings-test-openai"),
]
