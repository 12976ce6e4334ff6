"""StashHog's copy of the Stash library. Primary keys are Stash's own ids (as strings)."""

from typing import ClassVar, Self

from django.db import models
from django.db.models import F
from django.db.models.functions import Cast


class Entity(models.Model):
    """What performers, tags and studios share: a Stash id, a name and aliases."""

    id = models.CharField(primary_key=True, max_length=32)
    name = models.CharField(max_length=255, db_index=True)
    aliases = models.JSONField(default=list, blank=True)
    # Stash's "ignore auto tag": never matched by name in file paths (Stash's auto-tag, and
    # StashHog's path detectors).
    ignore_auto_tag = models.BooleanField(default=False)
    # Lower-cased name and aliases, one per line: what ``search`` looks in, kept by sync.
    search_text = models.TextField(blank=True, editable=False)
    last_synced = models.DateTimeField(db_index=True)

    # Each concrete kind gets its own default manager; declared for the type checker, which
    # gives an abstract model none.
    objects: ClassVar[models.Manager[Self]]

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name


class Performer(Entity):
    disambiguation = models.CharField(max_length=255, blank=True)


class Tag(Entity):
    pass


class Studio(Entity):
    pass


class Scene(models.Model):
    id = models.CharField(primary_key=True, max_length=32)
    title = models.TextField(blank=True)
    details = models.TextField(blank=True)
    organized = models.BooleanField(default=False, db_index=True)
    code = models.CharField(max_length=255, blank=True)
    urls = models.JSONField(default=list, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)  # Stash rating100
    # Links to stash-box scenes: [{"endpoint", "stash_id"}], at most one per endpoint.
    stash_ids = models.JSONField(default=list, blank=True)
    created_date = models.DateTimeField()  # Stash created_at
    # Stash's date as Stash gives it: "YYYY-MM-DD", or "YYYY-MM" / "YYYY" when it knows
    # only the month or the year (``scenes.dates``). Null, not "", when there is none: the
    # date sorts put scenes without one last (NULLS LAST).
    scene_date = models.CharField(max_length=10, null=True, blank=True)  # noqa: DJ001
    stash_updated_at = models.DateTimeField()  # not queried: sync keeps the watermark
    studio = models.ForeignKey(
        Studio, null=True, blank=True, on_delete=models.SET_NULL, related_name="scenes"
    )
    performers = models.ManyToManyField(Performer, blank=True, related_name="scenes")
    tags = models.ManyToManyField(Tag, blank=True, related_name="scenes")
    # Lower-cased title, details and file paths: what ``search`` looks in, kept by sync.
    search_text = models.TextField(blank=True, editable=False)
    last_synced = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            # The API sorts ids as numbers (Stash ids are integers kept as text), ties broken
            # by id: one index serves the whole ORDER BY, and holding the id, it walks a deep
            # page's skipped rows without reading the table.
            models.Index(Cast("id", models.BigIntegerField()), F("id"), name="scene_id_number_id"),
            # Every other API sort breaks ties by id: one index serves the whole ORDER BY
            # (titles, dates and sync stamps repeat a lot), and the date filters too.
            models.Index(fields=["title", "id"], name="scene_title_id"),
            models.Index(fields=["scene_date", "id"], name="scene_date_id"),
            models.Index(fields=["created_date", "id"], name="scene_created_id"),
            models.Index(fields=["last_synced", "id"], name="scene_last_synced_id"),
        ]

    def __str__(self):
        return self.title or f"Scene {self.id}"


# A file's fields besides its scene: what sync writes and the API shows, in that order.
FILE_FIELDS = ("id", "path", "size", "duration", "width", "height", "frame_rate",
               "video_codec", "primary")


class SceneFile(models.Model):
    id = models.CharField(primary_key=True, max_length=32)  # Stash file id
    scene = models.ForeignKey(Scene, on_delete=models.CASCADE, related_name="files")
    path = models.TextField()
    size = models.BigIntegerField(default=0)
    duration = models.FloatField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    frame_rate = models.FloatField(default=0)
    video_codec = models.CharField(max_length=50, blank=True)
    primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-primary", "id"]

    def __str__(self):
        return self.path


class SyncState(models.Model):
    """The one row (pk 1) that remembers where the last successful sync left off.

    ``watermark`` is the largest ``updated_at`` text Stash returned, kept verbatim (Stash
    compares these as text in its own offset); it only moves when a sync job completes.
    """

    watermark = models.CharField(max_length=64, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Sync state (watermark {self.watermark or 'none'})"

    @classmethod
    def load(cls) -> "SyncState":
        return cls.objects.get_or_create(pk=1)[0]


class DroppedIndex(models.Model):
    """An index or foreign key that a bulk load (a first sync) dropped, with the SQL that
    makes it again; ``scenes.bulk_load`` makes every recorded one again."""

    name = models.CharField(max_length=128)
    sql = models.TextField()

    def __str__(self):
        return self.name
