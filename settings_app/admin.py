"""Settings in the Django admin: one change form per registered key.

The value field is typed by the key's spec and checked by the registry, exactly as the API
checks it. Secrets are never rendered, not even as a hidden input: a password input left
empty keeps the stored key, and lists show the mask.
"""

from django import forms
from django.contrib import admin

from settings_app.models import Setting
from settings_app.registry import REGISTRY, SettingSpec, masked, validate_changes
from stashhog.api.exceptions import InvalidInput

_FORM_FIELD_FOR_TYPE = {
    bool: forms.BooleanField,
    int: forms.IntegerField,
    float: forms.FloatField,
    dict: forms.JSONField,
    list: forms.JSONField,
}
UNTYPED_HELP = (
    "Text, a number, or JSON for a price table. The field takes the key's type once the key "
    "is chosen."
)


def value_field(spec: SettingSpec | None) -> forms.Field:
    """A form field for ``spec``'s type; emptiness is left for the registry to judge."""
    if spec is None:
        return forms.CharField(required=False, help_text=UNTYPED_HELP)
    if spec.secret:
        return forms.CharField(
            required=False,
            empty_value=None,
            widget=forms.PasswordInput(render_value=False),
            help_text=f"{spec.description} Leave empty to keep the stored key.",
        )
    field_class = _FORM_FIELD_FOR_TYPE.get(spec.type)
    if field_class is None:
        return forms.CharField(required=False, empty_value=None, help_text=spec.description)
    return field_class(required=False, help_text=spec.description)


class SettingForm(forms.ModelForm):
    clear_secret = forms.BooleanField(
        required=False, label="Clear the stored key", help_text="Save no key at all."
    )

    class Meta:
        model = Setting
        fields = ["key", "value"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "key" in self.fields:  # adding: offer the registered keys not stored yet
            stored = set(Setting.objects.values_list("key", flat=True))
            self.fields["key"] = forms.ChoiceField(
                choices=[("", "---------")] + [(k, k) for k in REGISTRY if k not in stored]
            )
        self.key = self.instance.key if self.instance.pk else self["key"].value()
        self.spec = REGISTRY.get(self.key)
        self.fields["value"] = value_field(self.spec)
        if not (self.spec and self.spec.secret and self.instance.pk):
            del self.fields["clear_secret"]

    def clean(self):
        cleaned = super().clean()
        if not self.key or "key" in self.errors:
            return cleaned
        value = cleaned.get("value")
        if self.spec and self.spec.secret and self.instance.pk and value is None:
            # An empty password input keeps the stored key unless "clear" is ticked.
            cleaned["value"] = None if cleaned.get("clear_secret") else self.instance.value
            return cleaned
        try:
            cleaned["value"] = validate_changes({self.key: value}).get(
                self.key, self.instance.value  # the mask typed in: keep the stored key
            )
        except InvalidInput as exc:
            for message in exc.detail.get(self.key, [exc.message]):
                # A stored key no longer registered can only be deleted.
                self.add_error("value" if self.spec else None, message)
        return cleaned


@admin.register(Setting)
class SettingAdmin(admin.ModelAdmin):
    form = SettingForm
    list_display = ["key", "shown_value", "description", "updated_at"]
    # Keys only: searching values would let anyone probe a secret.
    search_fields = ["key"]

    def _superuser_only(self, request, obj=None):
        """Settings are for superusers, here as in the API (stashhog.api.permissions),
        whatever model permissions a staff user was given."""
        return request.user.is_superuser

    has_module_permission = has_view_permission = _superuser_only
    has_add_permission = has_change_permission = has_delete_permission = _superuser_only

    def get_fields(self, request, obj=None):
        spec = REGISTRY.get(obj.key) if obj else None
        return ["key", "value", "clear_secret"] if spec and spec.secret else ["key", "value"]

    def get_readonly_fields(self, request, obj=None):
        return ["key"] if obj else []

    @admin.display(description="value")
    def shown_value(self, obj: Setting):
        if obj.key not in REGISTRY:
            return "(no longer a setting)"
        return masked({obj.key: obj.value})[obj.key]

    @admin.display(description="description")
    def description(self, obj: Setting) -> str:
        spec = REGISTRY.get(obj.key)
        return spec.description if spec else ""
