from django.db import models


class Setting(models.Model):
    """A runtime override of one registered setting (see ``settings_app.registry``)."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(null=True)
    # A secret's binding: the origin (scheme://host:port) its URL setting had when it was
    # saved; the key is never sent anywhere else (settings_app.registry). Empty otherwise.
    origin = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return self.key

    def save(self, *args, **kwargs):
        from settings_app.registry import binding_origin

        self.origin = binding_origin(self.key, self.value)
        if kwargs.get("update_fields") is not None:  # update_or_create names its fields
            kwargs["update_fields"] = {*kwargs["update_fields"], "origin"}
        super().save(*args, **kwargs)
