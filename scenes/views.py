"""Scene and entity endpoints: thin views over the querysets and services of this app."""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from jobs.api import BACKGROUND_PARAMETER, job_accepted
from jobs.runner import start_job
from jobs.schema import (
    JOB_ACCEPTED_RESPONSE,
    JOB_ALREADY_ACTIVE_RESPONSE,
    JOB_QUEUE_UNAVAILABLE_RESPONSE,
)
from scenes import examples
from scenes.entities import PERFORMERS, STUDIOS, TAGS, EntityKind
from scenes.filters import PerformerFilterSet, SceneFilterSet, StudioFilterSet, TagFilterSet
from scenes.queries import attach_related, entities_with_scene_counts, scene_rows
from scenes.serializers import (
    EntitySerializer,
    SceneSerializer,
    SyncQuerySerializer,
    SyncResultSerializer,
)
from scenes.sync import client_from_settings, refresh_scene
from scenes.sync_job import SYNC_JOB
from stashhog.api.exceptions import NotFound
from stashhog.api.schema import error_example, error_response
from stashhog.api.validation import validated
from stashhog.request_threads import own_thread

ERROR_RESPONSES = {
    400: error_response(
        "Invalid query parameters.",
        error_example("Bad filter", 400, "Invalid input",
                      {"organized": ["Must be true or false."]}),
    ),
}
STASH_FAILED_RESPONSE = error_response(
    "Stash failed or could not be reached.",
    error_example("Stash down", 502, "Could not reach Stash at http://stash:9999: connection "
                  "failed (ConnectError) after 4 attempts", code="stash_unavailable"),
)


@extend_schema_view(
    list=extend_schema(
        summary="List scenes",
        responses={200: SceneSerializer(many=True), **ERROR_RESPONSES},
        examples=[examples.SCENE_PAGE],
    ),
    retrieve=extend_schema(
        summary="One scene",
        responses={
            200: SceneSerializer,
            404: error_response("No scene has this id.",
                                error_example("Unknown scene", 404, "Not found")),
            **ERROR_RESPONSES,
        },
        examples=[examples.SCENE],
    ),
)
class SceneViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SceneSerializer
    filterset_class = SceneFilterSet
    lookup_url_kwarg = "scene_id"
    lookup_value_regex = r"[^/]+"
    sortable = {
        "title": "title",
        "scene_date": "scene_date",
        "created_date": "created_date",
        "last_synced": "last_synced",
        "id": "id_number",
    }
    default_sort = "id_number"

    def get_queryset(self):
        return scene_rows()

    def paginate_queryset(self, queryset):
        return attach_related(super().paginate_queryset(queryset))

    def get_object(self):
        return attach_related([super().get_object()])[0]

    @extend_schema(
        summary="Sync the library from Stash",
        parameters=[
            BACKGROUND_PARAMETER,
            OpenApiParameter("incremental", bool, default=True,
                             description="Only what changed since the last sync; false reads "
                                         "the whole library."),
        ],
        request=None,
        responses={
            200: OpenApiResponse(SyncResultSerializer, description="background=false: the "
                                 "finished sync's counts.", examples=[examples.SYNC_RESULT]),
            202: JOB_ACCEPTED_RESPONSE,
            409: JOB_ALREADY_ACTIVE_RESPONSE,
            502: STASH_FAILED_RESPONSE,
            503: JOB_QUEUE_UNAVAILABLE_RESPONSE,
            **ERROR_RESPONSES,
        },
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    @own_thread
    def sync(self, request):
        query = validated(SyncQuerySerializer, request.query_params.dict())
        parameters = {"incremental": query["incremental"]}
        if query["background"]:
            return job_accepted(start_job(SYNC_JOB, parameters, created_by=request.user))
        # A failed or cancelled inline job raises JobNotCompleted, answered as its cause.
        return Response(
            start_job(SYNC_JOB, parameters, inline=True, created_by=request.user).result
        )

    @extend_schema(
        summary="Re-read one scene from Stash now",
        request=None,
        responses={
            200: SceneSerializer,
            404: error_response(
                "Stash does not have this scene; the local copy was removed.",
                error_example("Gone from Stash", 404, "Stash does not have this scene"),
            ),
            502: STASH_FAILED_RESPONSE,
            **ERROR_RESPONSES,
        },
        examples=[examples.SCENE],
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    @own_thread
    def resync(self, request, scene_id=None):
        with client_from_settings() as client:
            scene = refresh_scene(client, scene_id)
        if scene is None:
            raise NotFound("Stash does not have this scene")
        stored = attach_related([self.get_queryset().get(pk=scene.pk)])[0]
        return Response(self.get_serializer(stored).data)


class EntityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = EntitySerializer
    sortable = {"name": "name", "scene_count": "scene_count"}
    default_sort = "name"
    kind: EntityKind

    def get_queryset(self):
        return entities_with_scene_counts(self.kind)


def _entity_list_schema(noun: str, example: OpenApiExample):
    return extend_schema_view(list=extend_schema(
        summary=f"List {noun}",
        description=f"{noun.capitalize()} with how many local scenes use each.",
        responses={200: EntitySerializer(many=True), **ERROR_RESPONSES},
        examples=[example],
    ))


@_entity_list_schema("performers", examples.PERFORMER_PAGE)
class PerformerViewSet(EntityViewSet):
    kind = PERFORMERS
    filterset_class = PerformerFilterSet


@_entity_list_schema("tags", examples.TAG_PAGE)
class TagViewSet(EntityViewSet):
    kind = TAGS
    filterset_class = TagFilterSet


@_entity_list_schema("studios", examples.STUDIO_PAGE)
class StudioViewSet(EntityViewSet):
    kind = STUDIOS
    filterset_class = StudioFilterSet
