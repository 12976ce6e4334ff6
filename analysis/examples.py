"""OpenAPI examples of the analysis endpoints (lists get the page envelope added)."""

from drf_spectacular.utils import OpenApiExample

from jobs.schema import JOB_ID
from stashhog.api.schema import error_example

_AI_USAGE = {"requests": 15, "cache_hits": 2, "scenes_skipped": 6, "retries": 1, "errors": 0,
             "prompt_tokens": 12240, "cached_prompt_tokens": 0, "completion_tokens": 2760,
             "cost_usd": 0.003492}
_METADATA = {
    "job_id": JOB_ID,
    "options": {"detect_studios": True, "detect_performers": True, "detect_tags": True,
                "detect_details": True, "use_path": True, "use_ai": True,
                "create_missing": False, "confidence_threshold": 0.5,
                "auto_accept_threshold": None, "max_cost_usd": 5.0, "skip_settled": True,
                "strategies": {"studio": "fill_blank", "performers": "merge", "tags": "merge",
                               "details": "fill_blank"},
                "include_rejected": False, "set_organized": False},
    "selection": {"scene_ids": None, "filters": {"organized": False}},
    "model": "gpt-4o-mini",
    "outcome": "completed",
    "message": "Analysed 120 scenes: 96 proposed changes",
    "counts": {"scenes_selected": 120, "scenes_analysed": 120, "scenes_with_changes": 58,
               "changes": 96, "changes_by_field": {"studio": 31, "performers": 40, "tags": 9,
                                                   "details": 16},
               "auto_accepted": 0, "dropped_below_threshold": 14,
               "suppressed": {"rejected": 3, "in_open_plan": 0}},
    "tokens": {"prompt": 12240, "cached_prompt": 0, "completion": 2760},
    "cost_usd": 0.003492,
    "ai": _AI_USAGE,
    "errors": [],
    "sources": {"path": {}, "ai": {"model": "gpt-4o-mini", **_AI_USAGE}},
    "duration_seconds": 41.2,
}
_PLAN = {
    "id": 7, "name": "Unorganized scenes", "description": "", "status": "draft",
    "created_at": "2026-01-10T09:00:00Z", "total_scenes": 58, "total_changes": 96,
    "review_counts": {"pending": 96, "accepted": 0, "rejected": 0, "applied": 0, "failed": 0},
    "metadata": _METADATA,
}
_SCENE = {"scene_id": "1042", "scene_title": "Golden Hour",
          "scene_path": "/media/Blue Harbor Films/Golden Hour.mp4"}
_STUDIO_CHANGE = {
    **_SCENE, "conflict": "", "id": 501, "field": "studio", "action": "set", "current_value": None,
    "proposed_value": {"id": "12", "name": "Blue Harbor Films"}, "confidence": 0.95,
    "source": "path", "reason": "Blue Harbor Films (path): name 'blue harbor films' in "
    "folder name", "status": "pending", "error": "",
}
_PERFORMERS_CHANGE = {
    **_SCENE, "conflict": "", "id": 502, "field": "performers", "action": "add",
    "current_value": [{"id": "301", "name": "Mia Rivera"}],
    "proposed_value": [{"id": "318", "name": "Jane Doe"}, {"id": None, "name": "Anna Bell"}],
    "confidence": 0.7, "source": "ai",
    "reason": "Jane Doe (path): name 'jane doe' in filename; Anna Bell (ai): new: named "
    "after 'feat.' in the filename", "status": "pending", "error": "",
}
_DETAILS_CHANGE = {
    **_SCENE, "conflict": "", "id": 503, "field": "details", "action": "set",
    "current_value": "<p>Golden Hour featuring <b>Mia Rivera</b>.</p>",
    "proposed_value": "Golden Hour featuring Mia Rivera.", "confidence": 0.9,
    "source": "path", "reason": "Details contain HTML markup; proposed as plain text",
    "status": "pending", "error": "",
}

GENERATE_REQUEST = OpenApiExample(
    "Some scenes, with AI", request_only=True,
    value={"scene_ids": ["1042", "1043"], "plan_name": "Two new scenes",
           "options": {"use_ai": True, "detect_details": False, "confidence_threshold": 0.6,
                       "strategies": {"studio": "overwrite", "tags": "replace"},
                       "set_organized": True}},
)
GENERATE_BY_FILTER = OpenApiExample(
    "Every unorganized scene of a studio, path detection only", request_only=True,
    value={"filters": {"studio_id": "12", "organized": False},
           "options": {"use_ai": False, "auto_accept_threshold": 0.95}},
)
PLAN_LIST = OpenApiExample("Plans", response_only=True, value=_PLAN)
PLAN_DETAIL = OpenApiExample("Plan with its changes", response_only=True, status_codes=["200"],
                             value={**_PLAN, "scenes": [
                                 {**_SCENE, "changes": [_STUDIO_CHANGE, _PERFORMERS_CHANGE,
                                                        _DETAILS_CHANGE]},
                             ]})
CHANGE_PAGE = OpenApiExample("Changes", response_only=True,
                             value=_STUDIO_CHANGE)  # one item: the schema wraps it in a page
PLAN_CANCELLED = OpenApiExample("Cancelled plan", response_only=True,
                                value={**_PLAN, "status": "cancelled"})

CHANGE_ACCEPT = OpenApiExample("Accept", request_only=True, value={"status": "accepted"})
CHANGE_EDIT_PERFORMERS = OpenApiExample(
    "Keep one performer and accept", request_only=True,
    value={"proposed_value": [{"id": "318"}], "status": "accepted"},
)
CHANGE_NEW_STUDIO = OpenApiExample(
    "Propose a studio Stash does not have", request_only=True,
    value={"proposed_value": {"id": None, "name": "Harbor Lights"}},
)
CHANGE_RESPONSE = OpenApiExample("Change", response_only=True, status_codes=["200"],
                                 value={**_STUDIO_CHANGE, "status": "accepted"})

BULK_BY_CONFIDENCE = OpenApiExample(
    "Accept every confident studio", request_only=True,
    value={"status": "accepted", "field": "studio", "min_confidence": 0.9},
)
BULK_BY_FILTERS = OpenApiExample(
    "Accept every confident path performer change", request_only=True,
    value={"status": "accepted", "filters": {"source": "path", "field": "performers",
                                             "min_confidence": 0.9, "status": "pending"}},
)
BULK_BY_IDS = OpenApiExample("Reject some changes", request_only=True,
                             value={"status": "rejected", "change_ids": [502, 503]})
BULK_RESULT = OpenApiExample(
    "Counts", response_only=True, status_codes=["200"],
    value={"plan_id": 7, "status": "accepted", "matched": 31, "updated": 29, "unchanged": 2,
           "skipped_applied": 0, "skipped_conflicts": 0, "plan_status": "reviewing"},
)
APPLY_REQUEST = OpenApiExample("Only two scenes", request_only=True,
                               value={"scene_ids": ["1042", "1043"]})
APPLY_RESULT = OpenApiExample(
    "Applied (background=false)", response_only=True, status_codes=["200"],
    value={"applied": 29, "skipped": 1, "failed": 1, "remaining": 0, "scenes": 24,
           "requests": 9, "created": {"studios": 0, "performers": 1, "tags": 0},
           "duration_seconds": 3.2, "plan_status": "reviewing"},
)

REVERT_REQUEST = OpenApiExample("Only one scene", request_only=True,
                                value={"scene_ids": ["1042"]})
REVERT_PLAN = OpenApiExample(
    "The revert plan", response_only=True, status_codes=["201"],
    value={**_PLAN, "id": 8, "name": "Revert of Unorganized scenes", "total_scenes": 24,
           "total_changes": 29,
           "review_counts": {"pending": 28, "accepted": 0, "rejected": 1, "applied": 0,
                             "failed": 0},
           "description": "Undoes the applied changes of plan 7 (Unorganized scenes). Entities "
           "the apply created stay in Stash (only removed from the scenes): performer 'Anna "
           "Bell' (id 412).",
           "metadata": {"reverts_plan_id": 7, "scene_ids": None, "conflicts": 1,
                        "entities_left_in_stash": [{"kind": "performer", "id": "412",
                                                    "name": "Anna Bell"}]}},
)
SCENE_HISTORY = OpenApiExample(
    "History", response_only=True,
    value={"change_id": 501, "plan_id": 7, "plan_name": "Unorganized scenes",
           "field": "studio", "action": "set", "value_before": None,
           "applied_value": {"id": "12", "name": "Blue Harbor Films"},
           "applied_at": "2026-01-10T10:02:11Z", "reviewed_by": "admin",
           "applied_by": "admin"},  # one item: the schema wraps it in a page
)

INVALID_INPUT = error_example("Unknown scene ids", 400, "2 scene id(s) are not in the library",
                              {"scene_ids": ["99998", "99999"]})
PLAN_NOT_FOUND = error_example("Unknown plan", 404, "Plan not found")
ANALYSIS_LIMIT_REACHED = error_example(
    "Too many analyses", 409,
    "2 analysis job(s) are already active, the most allowed at once; start this one when one "
    "of them has finished",
    {"job_ids": ["3f1c2a9e-7b4d-4c8e-9a51-2d6f0b8e4c17", "9b2e4d1a-5c3f-4e8a-b7d6-0a1f2e3c4d5b"]},
    code="job_limit_reached",
)
PLAN_CONFLICT = error_example("Applied plan", 409, "An applied plan cannot be cancelled",
                              {"plan_id": 7})
CHANGE_NOT_FOUND = error_example("Unknown change", 404, "Change not found")
CHANGE_APPLIED = error_example("Applied change", 409,
                               "The change was already applied and can no longer be edited",
                               {"change_id": 501})
REVERT_CONFLICT = error_example("Nothing applied", 409,
                                "The plan has no applied changes to revert", {"plan_id": 7})
STASH_DOWN = error_example("Stash down", 502, "Could not reach Stash at http://stash:9999: "
                           "connection failed (ConnectError) after 4 attempts")
SCENE_NOT_FOUND = error_example("Unknown scene", 404, "Scene not found")
REJECTION = OpenApiExample("Rejections", response_only=True, value={
    "id": 31, "scene_id": "1042", "field": "performers", "action": "add",
    "value": [{"id": "318", "name": "Jane Doe"}], "change_id": 502, "plan_id": 7,
    "rejected_by": "admin", "created_at": "2026-01-10T09:30:00Z",
})  # one item: the schema wraps it in a page
REJECTION_NOT_FOUND = error_example("Unknown rejection", 404, "No Rejection matches the given "
                                    "query.")
