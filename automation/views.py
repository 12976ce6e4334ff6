"""``/api/schedules``: thin views over automation.schedules."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from automation.hooks import HookAcceptedSerializer, StashHookSerializer, receive, scenes_of
from automation.models import Schedule
from automation.notifications import send
from automation.schedules import delete_schedule, run_schedule, save_schedule
from automation.serializers import ScheduleSerializer
from automation.workflow import WorkflowRequestSerializer, request_workflow
from jobs.api import job_accepted
from jobs.schema import JOB_ACCEPTED_RESPONSE, JOB_ALREADY_ACTIVE_RESPONSE, JOB_ID
from settings_app.registry import apprise_urls, problem_message
from settings_app.secrets import SECRET_MASK
from stashhog.api.auth import LockoutTokenAuthentication
from stashhog.api.permissions import IsSuperuser
from stashhog.api.schema import error_example, error_response
from stashhog.api.validation import NoUnknownKeysMixin, validated

SCHEDULE_EXAMPLE = {
    "id": 1, "name": "Incremental sync", "kind": "sync", "parameters": {"incremental": True},
    "crontab": "*/30 * * * *", "timezone": "UTC", "interval_seconds": None, "enabled": True,
    "last_run_at": "2026-01-05T10:30:00Z", "next_run_at": "2026-01-05T11:00:00Z",
    "last_job": {"id": JOB_ID, "status": "completed"}, "last_outcome": "started",
}
SCHEDULE_NOT_FOUND = error_response("No schedule has this id.",
                                    error_example("Unknown schedule", 404, "Not found"))
INVALID_SCHEDULE = error_response(
    "Invalid schedule; ``detail`` says what, by field.",
    error_example("Bad crontab", 400, "Invalid input",
                  {"crontab": ["A crontab has five fields: minute hour day-of-month month "
                               "day-of-week, e.g. \"*/30 * * * *\"."]}),
    error_example("Bad parameter", 400, "Invalid parameters",
                  {"parameters": {"incremental": ["Must be a valid boolean."]}}),
)
RESPONSE_EXAMPLE = OpenApiExample("Schedule", value=SCHEDULE_EXAMPLE, response_only=True)
REQUEST_EXAMPLES = [
    OpenApiExample("Sync every 30 minutes", request_only=True, value={
        "name": "Incremental sync", "kind": "sync", "parameters": {"incremental": True},
        "crontab": "*/30 * * * *"}),
    OpenApiExample("Analyse unorganized scenes every 6 hours", request_only=True, value={
        "name": "Analyse unorganized", "kind": "analysis", "interval_seconds": 21600,
        "parameters": {"filters": {"organized": False}}}),
]


@extend_schema_view(
    list=extend_schema(
        summary="Schedules",
        responses={200: ScheduleSerializer(many=True), 400: error_response(
            "A query parameter is invalid (``detail`` says which).",
            error_example("Unknown parameter", 400, "Unknown query parameter: kind",
                          {"kind": ["Unknown query parameter; this list takes: format, page, "
                                    "per_page, sort_by, sort_order."]}))},
        examples=[RESPONSE_EXAMPLE]),
    retrieve=extend_schema(summary="One schedule",
                           responses={200: ScheduleSerializer, 404: SCHEDULE_NOT_FOUND},
                           examples=[RESPONSE_EXAMPLE]),
    create=extend_schema(summary="Create a schedule (beat picks it up without a restart)",
                         responses={201: ScheduleSerializer, 400: INVALID_SCHEDULE},
                         examples=[*REQUEST_EXAMPLES, RESPONSE_EXAMPLE]),
    partial_update=extend_schema(
        summary="Change a schedule: any field; a crontab replaces an interval and back",
        responses={200: ScheduleSerializer, 400: INVALID_SCHEDULE, 404: SCHEDULE_NOT_FOUND},
        examples=[OpenApiExample("Disable", request_only=True, value={"enabled": False}),
                  RESPONSE_EXAMPLE]),
    destroy=extend_schema(summary="Delete a schedule",
                          responses={204: None, 404: SCHEDULE_NOT_FOUND}),
)
class ScheduleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.CreateModelMixin, mixins.UpdateModelMixin,
                      mixins.DestroyModelMixin, viewsets.GenericViewSet):
    parser_classes = [JSONParser]
    serializer_class = ScheduleSerializer
    http_method_names = ["get", "post", "patch", "delete"]
    lookup_url_kwarg = "schedule_id"
    lookup_value_regex = r"\d+"
    sortable = {"name": "name", "id": "id", "last_run_at": "last_run_at"}
    default_sort = "name"

    def get_queryset(self):
        return Schedule.objects.select_related(
            "periodic_task__crontab", "periodic_task__interval", "last_job")

    def perform_create(self, serializer):
        serializer.instance = save_schedule(None, serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = save_schedule(serializer.instance, serializer.validated_data)

    def perform_destroy(self, instance):
        delete_schedule(instance)

    @extend_schema(
        summary="Run a schedule now, enabled or not",
        request=None,
        responses={202: JOB_ACCEPTED_RESPONSE, 404: SCHEDULE_NOT_FOUND,
                   409: JOB_ALREADY_ACTIVE_RESPONSE},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def run(self, request, schedule_id=None):
        return job_accepted(run_schedule(self.get_object()))


class WorkflowViewSet(viewsets.ViewSet):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Run the workflow: sync, analyse what is new or changed, apply what was "
        "auto-accepted",
        description="Each step is a job of its own (``parent_id`` is the workflow's job). "
        "Options left out take the saved analysis defaults; without an auto-accept "
        "threshold nothing is applied.",
        request=WorkflowRequestSerializer,
        responses={202: JOB_ACCEPTED_RESPONSE, 400: error_response(
            "Invalid options.", error_example("Bad option", 400, "Invalid input", {
                "options": {"confidence_threshold": ["Ensure this value is less than or "
                                                     "equal to 1."]}})),
                   409: JOB_ALREADY_ACTIVE_RESPONSE},
        examples=[OpenApiExample("Auto-apply confident changes", request_only=True,
                                 value={"options": {"auto_accept_threshold": 0.9}})],
    )
    def create(self, request):
        return job_accepted(request_workflow(validated(WorkflowRequestSerializer, request.data)))


class StashHookViewSet(viewsets.ViewSet):
    # Called by the Stash plugin with a token; no session, so no CSRF to work around.
    authentication_classes = [LockoutTokenAuthentication]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Stash reports changed scenes (called by the StashHog plugin for Stash)",
        description="Takes Stash's own ``hookContext`` or a batch of ``scene_ids`` with a "
        "``type``. The scenes are resynced by one hook job that waits a few seconds for "
        "more hooks, so a burst of hooks becomes a few jobs; a destroyed scene is removed. "
        "With the setting ``hook_analyze`` the new or changed ones are analysed next. "
        "Hooks about other objects than scenes are answered 200 and ignored.",
        request=StashHookSerializer,
        responses={202: HookAcceptedSerializer, 200: HookAcceptedSerializer,
                   400: error_response("Neither hookContext nor scene_ids.", error_example(
                       "Empty", 400, "Invalid input",
                       {"non_field_errors": ["Send hookContext or scene_ids (with type)."]}))},
        examples=[
            OpenApiExample("As Stash gives it", request_only=True, value={
                "hookContext": {"type": "Scene.Update.Post", "id": 12}}),
            OpenApiExample("A batch", request_only=True, value={
                "type": "Scene.Create.Post", "scene_ids": ["12", "13"]}),
            OpenApiExample("Taken", response_only=True, status_codes=["202"],
                           value={"scenes": 1, "job_id": JOB_ID}),
            OpenApiExample("Not about scenes", response_only=True, status_codes=["200"],
                           value={"scenes": 0, "job_id": None}),
        ],
    )
    def create(self, request):
        scene_ids = scenes_of(validated(StashHookSerializer, request.data))
        job = receive(scene_ids)
        return Response(
            HookAcceptedSerializer({"scenes": len(scene_ids), "job_id": job and job.id}).data,
            status=status.HTTP_202_ACCEPTED if job else status.HTTP_200_OK)


class NotifyTestSerializer(NoUnknownKeysMixin, serializers.Serializer):
    urls = serializers.CharField(
        required=False, allow_null=True,
        help_text=f'Apprise URLs separated by spaces; left out, null or "{SECRET_MASK}": the '
        "saved notify_urls.")

    def validate_urls(self, value):
        if value in (None, SECRET_MASK):
            return value
        try:
            return apprise_urls(value)
        except ValueError as exc:
            raise serializers.ValidationError(problem_message(exc)) from None


class NotifyTestResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    error = serializers.CharField(required=False, help_text="Why it was not sent.")


class NotifyTestViewSet(viewsets.ViewSet):
    parser_classes = [JSONParser]
    # Like the other connection tests: it sends to URLs the caller chooses.
    permission_classes = [IsSuperuser]

    @extend_schema(
        summary="Send a test notification (default: to the saved notify_urls)",
        request=NotifyTestSerializer,
        responses={200: NotifyTestResultSerializer, 400: error_response(
            "Not an Apprise URL.", error_example("Unknown scheme", 400, "Invalid input", {
                "urls": ["Not a notification URL Apprise knows (bogus://...)."]}))},
        examples=[
            OpenApiExample("Test the saved URLs", request_only=True, value={}),
            OpenApiExample("Test an ntfy topic", request_only=True,
                           value={"urls": "ntfy://ntfy.sh/my-stashhog"}),
            OpenApiExample("Sent", response_only=True, value={"success": True}),
            OpenApiExample("Not sent", response_only=True, value={
                "success": False,
                "error": "A Connection error occurred sending JSON notification to 127.0.0.1."}),
        ],
    )
    def create(self, request):
        urls = validated(NotifyTestSerializer, request.data).get("urls")
        return Response(send("StashHog test notification",
                             "Notifications from StashHog reach you here.", urls))
