from django.contrib import admin

from scenes.models import DroppedIndex, Performer, Scene, SceneFile, Studio, SyncState, Tag


class SceneFileInline(admin.TabularInline):
    model = SceneFile
    extra = 0
    fields = ["path", "primary", "size", "duration", "width", "height", "frame_rate",
              "video_codec"]


@admin.register(Scene)
class SceneAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "studio", "organized", "scene_date", "last_synced"]
    list_filter = ["organized", ("studio", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["studio"]
    search_fields = ["=id", "search_text"]
    autocomplete_fields = ["studio", "performers", "tags"]
    inlines = [SceneFileInline]
    show_full_result_count = False  # an exact COUNT on every search is slow at 100k scenes

    def get_search_results(self, request, queryset, search_term):
        # search_text is stored lower-cased.
        return super().get_search_results(request, queryset, search_term.lower())


class EntityAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "aliases", "last_synced"]
    search_fields = ["=id", "search_text"]


@admin.register(Performer)
class PerformerAdmin(EntityAdmin):
    list_display = [*EntityAdmin.list_display, "disambiguation"]


@admin.register(Tag)
class TagAdmin(EntityAdmin):
    pass


@admin.register(Studio)
class StudioAdmin(EntityAdmin):
    pass


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = ["watermark", "last_sync_at", "last_full_sync_at"]


@admin.register(SceneFile)
class SceneFileAdmin(admin.ModelAdmin):
    list_display = ["path", "scene", "primary", "size", "duration", "width", "height"]
    list_filter = ["primary", "video_codec"]
    list_select_related = ["scene"]
    search_fields = ["=id", "path"]
    raw_id_fields = ["scene"]
    show_full_result_count = False


@admin.register(DroppedIndex)
class DroppedIndexAdmin(admin.ModelAdmin):
    """What a bulk load dropped and has not built again yet: read only, since
    ``scenes.bulk_load`` builds each from its recorded SQL."""

    list_display = ["name", "sql"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a deleted record would leave its index unbuilt for good
