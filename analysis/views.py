"""Analysis endpoints: thin views over analysis.generate, analysis.review and the apply service."""

from django.http.response import HttpResponseBase
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from analysis import examples
from analysis.apply import request_apply
from analysis.filters import PlanChangeFilterSet, PlanFilterSet, RejectionFilterSet
from analysis.generate import request_analysis
from analysis.models import PlanChange, Rejection
from analysis.plan_queries import (
    change_row,
    change_rows,
    display,
    get_plan,
    plan_scene_ids,
    plan_scene_parts,
    plan_scenes,
    plans_with_counts,
    scene_history,
)
from analysis.revert import create_revert_plan
from analysis.review import UNSET, bulk_review, cancel_plan, update_change
from analysis.serializers import (
    ApplyRequestSerializer,
    BulkReviewResultSerializer,
    BulkReviewSerializer,
    ChangeUpdateSerializer,
    GenerateRequestSerializer,
    PlanChangeSerializer,
    PlanDetailQuerySerializer,
    PlanDetailSerializer,
    PlanSerializer,
    RejectionSerializer,
    RevertRequestSerializer,
    SceneHistorySerializer,
)
from jobs.api import BACKGROUND_PARAMETER, job_accepted, wants_background
from jobs.schema import (
    JOB_ACCEPTED_RESPONSE,
    JOB_ALREADY_ACTIVE_RESPONSE,
    JOB_ID,
    JOB_QUEUE_UNAVAILABLE_RESPONSE,
)
from stashhog.api.request_cycles import data_of
from stashhog.api.schema import error_example, error_response
from stashhog.api.streaming import json_object_stream, streams
from stashhog.api.validation import validated
from stashhog.request_threads import own_thread

COMMON_ERRORS = {
    400: error_response("Invalid input; ``detail`` says what.", examples.INVALID_INPUT),
}
INLINE_JOB_FAILED = error_response(
    "background=false: the job failed because Stash or the AI server did (``code`` says "
    "which); ``detail.job_id`` names the failed job.",
    error_example("AI server down", 502, "Could not connect to the AI server; check the base "
                  "URL", {"job_id": JOB_ID, "result": None}, code="ai_unavailable"),
)
ANALYSIS_CONFLICT = error_response(
    "background=false: the job was cancelled while the request waited. Or as many analysis "
    "jobs as the ``analysis_max_concurrent_jobs`` setting allows are active: nothing was "
    "started (``detail.job_ids`` lists them); retry when one has finished.",
    error_example("Cancelled", 409, "The analysis job was cancelled",
                  {"job_id": JOB_ID, "result": None}, code="job_cancelled"),
    examples.ANALYSIS_LIMIT_REACHED,
)
PLAN_NOT_FOUND = error_response("No plan has this id.", examples.PLAN_NOT_FOUND)


# The plan detail and the changes list answer their value rows as they are, under the keys
# of PlanChangeSerializer (which stays their schema): every value already has the type the
# serializer gives it, and a test holds the two equal. Serializing a page's changes field by
# field cost more CPU than the rest of the request.
CHANGE_KEYS = tuple(PlanChangeSerializer.Meta.fields)
PLAN_PART_SCENES = 500  # scenes of a whole plan read and encoded at a time (as one page)


def change_data(row: dict) -> dict:
    return {key: row[key] for key in CHANGE_KEYS}


def _scene_data(scene: dict) -> dict:
    return {**scene, "changes": [change_data(row) for row in scene["changes"]]}


def _plan_detail(plan_id, page: int | None = None, per_page: int = 50) -> dict:
    """PlanDetailSerializer's shape: the plan, and its scenes with their changes."""
    plan = get_plan(plan_id, with_counts=True)
    scenes = [_scene_data(scene) for scene in plan_scenes(plan.changes.all(), page, per_page,
                                                           plan_scene_ids(plan.id))]
    return {**data_of(PlanSerializer(plan)), "scenes": scenes}


def _whole_plan(request, plan_id) -> HttpResponseBase:
    """``_plan_detail`` of every scene; as JSON, streamed PLAN_PART_SCENES scenes at a time
    (stashhog/api/streaming.py): a plan can hold 100,000 scenes."""
    if not streams(request):
        return Response(_plan_detail(plan_id))
    plan = get_plan(plan_id, with_counts=True)
    parts = ([_scene_data(scene) for scene in part]
             for part in plan_scene_parts(plan, PLAN_PART_SCENES))
    return json_object_stream(request._request, data_of(PlanSerializer(plan)), "scenes", parts)


class AnalysisViewSet(viewsets.ViewSet):
    @extend_schema(
        summary="Analyse scenes into a new plan of proposed changes",
        description="Neither ``scene_ids`` nor ``filters``: every scene. Both: the listed "
        "scenes that match the filters. Options left out take the effective settings.",
        parameters=[BACKGROUND_PARAMETER],
        request=GenerateRequestSerializer,
        responses={
            200: OpenApiResponse(PlanDetailSerializer,
                                 description="background=false: the finished plan."),
            202: JOB_ACCEPTED_RESPONSE,
            409: ANALYSIS_CONFLICT,
            502: INLINE_JOB_FAILED,
            503: JOB_QUEUE_UNAVAILABLE_RESPONSE,
            **COMMON_ERRORS,
        },
        examples=[examples.GENERATE_REQUEST, examples.GENERATE_BY_FILTER, examples.PLAN_DETAIL],
    )
    @action(detail=False, methods=["post"])
    @own_thread
    def generate(self, request):
        background = wants_background(request)
        body = validated(GenerateRequestSerializer, request.data)
        job = request_analysis(**body, background=background, user=request.user)
        if background:
            return job_accepted(job)
        return _whole_plan(request, job.result["plan_id"])


@extend_schema_view(
    list=extend_schema(
        summary="Analysis plans, with their scene and change counts",
        responses={200: PlanSerializer, **COMMON_ERRORS},
        examples=[examples.PLAN_LIST],
    ),
    retrieve=extend_schema(
        summary="One plan with its changes grouped by scene",
        description="Every scene, or with ``page``/``per_page`` one page of scenes in id "
        "order (``total_scenes`` says how many there are).",
        parameters=[PlanDetailQuerySerializer],
        responses={200: PlanDetailSerializer, 404: PLAN_NOT_FOUND, **COMMON_ERRORS},
        examples=[examples.PLAN_DETAIL],
    ),
    destroy=extend_schema(
        summary="Cancel a plan (it stays readable; applied or applying plans cannot be)",
        responses={200: PlanSerializer, 404: PLAN_NOT_FOUND,
                   409: error_response("The plan is applied or being applied.",
                                       examples.PLAN_CONFLICT),
                   **COMMON_ERRORS},
        examples=[examples.PLAN_CANCELLED],
    ),
)
class PlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                  viewsets.GenericViewSet):
    serializer_class = PlanSerializer
    filterset_class = PlanFilterSet
    lookup_url_kwarg = "plan_id"
    lookup_value_regex = r"\d+"
    sortable = {"created_at": "created_at", "name": "name", "status": "status", "id": "id"}
    default_sort = "-created_at"  # newest first

    def get_queryset(self):
        return plans_with_counts()

    def retrieve(self, request, plan_id=None):
        query = validated(PlanDetailQuerySerializer, request.query_params.dict())
        if "page" not in query and "per_page" not in query:
            return _whole_plan(request, plan_id)
        return Response(_plan_detail(plan_id, query.get("page", 1), query.get("per_page", 50)))

    def destroy(self, request, plan_id=None):
        plan = cancel_plan(plan_id)
        return Response(self.get_serializer(plans_with_counts().get(pk=plan.pk)).data)

    @extend_schema(
        summary="Accept or reject many changes of a plan at once",
        request=BulkReviewSerializer,
        responses={200: BulkReviewResultSerializer, 404: PLAN_NOT_FOUND,
                   409: error_response("The plan is cancelled or being applied.",
                                       examples.PLAN_CONFLICT),
                   **COMMON_ERRORS},
        examples=[examples.BULK_BY_CONFIDENCE, examples.BULK_BY_FILTERS, examples.BULK_BY_IDS,
                  examples.BULK_RESULT],
    )
    @action(detail=True, methods=["post"], url_path="bulk-review", filter_backends=[],
            pagination_class=None)
    def bulk_review(self, request, plan_id=None):
        body = validated(BulkReviewSerializer, request.data)
        return Response(bulk_review(plan_id, **body, user=request.user))

    @extend_schema(
        summary="Create a plan that undoes this plan's applied changes",
        description="From the values recorded at apply time. Changes whose field Stash no "
        "longer holds as the apply wrote it are marked ``conflict`` and start rejected. "
        "Entities the apply created stay in Stash (the new plan's description lists them). "
        "Review and apply the new plan like any other.",
        request=RevertRequestSerializer,
        responses={201: PlanSerializer, 404: PLAN_NOT_FOUND,
                   409: error_response("Nothing of the plan was applied.",
                                       examples.REVERT_CONFLICT),
                   502: error_response("Stash failed or could not be reached.",
                                       examples.STASH_DOWN),
                   **COMMON_ERRORS},
        examples=[examples.REVERT_REQUEST, examples.REVERT_PLAN],
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    @own_thread
    def revert(self, request, plan_id=None):
        body = validated(RevertRequestSerializer, request.data)
        plan = create_revert_plan(plan_id, body.get("scene_ids"))
        return Response(self.get_serializer(plans_with_counts().get(pk=plan.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Apply the plan's accepted changes to Stash",
        parameters=[BACKGROUND_PARAMETER],
        request=ApplyRequestSerializer,
        responses={
            200: OpenApiResponse(description="background=false: the apply job's result.",
                                 response={"type": "object", "additionalProperties": True}),
            202: JOB_ACCEPTED_RESPONSE,
            404: PLAN_NOT_FOUND,
            409: JOB_ALREADY_ACTIVE_RESPONSE,
            502: INLINE_JOB_FAILED,
            503: JOB_QUEUE_UNAVAILABLE_RESPONSE,
            **COMMON_ERRORS,
        },
        examples=[examples.APPLY_REQUEST, examples.APPLY_RESULT,
                  OpenApiExample("Queued", response_only=True, status_codes=["202"],
                                 value={"job_id": JOB_ID, "status": "pending"})],
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    @own_thread
    def apply(self, request, plan_id=None):
        background = wants_background(request)
        body = validated(ApplyRequestSerializer, request.data)
        job = request_apply(int(plan_id), body.get("scene_ids"), background=background,
                            user=request.user)
        if background:
            return job_accepted(job)
        return Response(job.result)


@extend_schema_view(list=extend_schema(
    summary="The plan's changes, filtered, sorted and paginated",
    description="Each change carries its scene's title (or primary file name) and primary "
    "file path.",
    parameters=[OpenApiParameter("plan_id", int, OpenApiParameter.PATH)],
    responses={200: PlanChangeSerializer(many=True), 404: PLAN_NOT_FOUND, **COMMON_ERRORS},
    examples=[examples.CHANGE_PAGE],
))
class PlanChangeListViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = PlanChangeSerializer
    filterset_class = PlanChangeFilterSet
    sortable = {"confidence": "confidence", "scene": "scene_number", "field": "field",
                "id": "id"}
    default_sort = "scene_number"
    queryset = PlanChange.objects.none()  # the model, for the schema

    def get_queryset(self):
        return get_plan(self.kwargs["plan_id"]).changes.all()

    def list(self, request, *args, **kwargs):
        rows = self.paginate_queryset(change_rows(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response([change_data(display(row)) for row in rows])


class ChangeViewSet(viewsets.GenericViewSet):
    serializer_class = PlanChangeSerializer
    lookup_url_kwarg = "change_id"
    lookup_value_regex = r"\d+"

    @extend_schema(
        summary="Edit, accept or reject one proposed change",
        request=ChangeUpdateSerializer,
        responses={
            200: PlanChangeSerializer,
            404: error_response("No change has this id.", examples.CHANGE_NOT_FOUND),
            409: error_response("The change was applied, or its plan takes no review.",
                                examples.CHANGE_APPLIED),
            **COMMON_ERRORS,
        },
        examples=[examples.CHANGE_ACCEPT, examples.CHANGE_EDIT_PERFORMERS,
                  examples.CHANGE_NEW_STUDIO, examples.CHANGE_RESPONSE],
    )
    def partial_update(self, request, change_id=None):
        body = validated(ChangeUpdateSerializer, request.data)
        change = update_change(
            change_id, proposed_value=body.get("proposed_value", UNSET), status=body.get("status"),
            user=request.user,
        )
        return Response(change_data(change_row(change.pk)))


@extend_schema_view(list=extend_schema(
    summary="What StashHog applied to a scene, newest first",
    description="Every applied change of the scene with its plan, the time, who accepted it "
    "and who started the apply.",
    parameters=[OpenApiParameter("scene_id", str, OpenApiParameter.PATH)],
    responses={200: SceneHistorySerializer(many=True),
               404: error_response("No such scene and no history of it.",
                                   examples.SCENE_NOT_FOUND),
               **COMMON_ERRORS},
    examples=[examples.SCENE_HISTORY],
))
class SceneHistoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = SceneHistorySerializer
    filter_backends = []
    queryset = PlanChange.objects.none()  # the model, for the schema
    default_sort = "-applied_at"

    def get_queryset(self):
        return scene_history(self.kwargs["scene_id"])


@extend_schema_view(
    list=extend_schema(
        summary="Values a person rejected, which later analyses do not propose again",
        description="One item per rejected value: a rejected list change (tags, performers, "
        "urls, ...) gives one per item. Analyses skip them unless a request sets "
        "``options.include_rejected``; accepting the change again, or deleting the "
        "rejection, takes it back.",
        responses={200: RejectionSerializer(many=True), **COMMON_ERRORS},
        examples=[examples.REJECTION],
    ),
    destroy=extend_schema(
        summary="Take a rejection back: later analyses may propose the value again",
        responses={204: OpenApiResponse(description="Forgotten."),
                   404: error_response("No rejection has this id.",
                                       examples.REJECTION_NOT_FOUND),
                   **COMMON_ERRORS},
    ),
)
class RejectionViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin,
                       viewsets.GenericViewSet):
    serializer_class = RejectionSerializer
    filterset_class = RejectionFilterSet
    lookup_url_kwarg = "rejection_id"
    lookup_value_regex = r"\d+"
    sortable = {"created_at": "created_at", "id": "id"}
    default_sort = "-created_at"  # newest first

    def get_queryset(self):
        return Rejection.objects.select_related("change", "rejected_by")
