"""Every model is in the admin, and every admin list and add page renders."""

import pytest
from django.apps import apps
from django.contrib import admin

APPS = ("scenes", "analysis", "jobs", "settings_app", "automation")
MODELS = [model for app in APPS for model in apps.get_app_config(app).get_models()]


def test_every_model_is_in_the_admin():
    assert [model.__name__ for model in MODELS if model not in admin.site._registry] == []


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_admin_pages_render(admin_client, model):
    meta = model._meta
    assert admin_client.get(f"/admin/{meta.app_label}/{meta.model_name}/").status_code == 200
    add = admin_client.get(f"/admin/{meta.app_label}/{meta.model_name}/add/")
    assert add.status_code in (200, 403)  # 403: read-only admins allow no adding
