from django.db import models


class Setting(models.Model):
    """A runtime override of one registered setting (see ``settings_app.registry``)."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return self.key
