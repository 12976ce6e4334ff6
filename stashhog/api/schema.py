"""drf-spectacular hooks."""


def paths_without_trailing_slash(result, generator, request, public):
    """Routes accept both forms; document the canonical one (no trailing slash)."""
    result["paths"] = {
        (path.rstrip("/") or "/"): item for path, item in result.get("paths", {}).items()
    }
    return result
