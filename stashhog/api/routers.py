from rest_framework.routers import DefaultRouter


class OptionalSlashRouter(DefaultRouter):
    """Every API path answers with and without a trailing slash (no redirects)."""

    include_format_suffixes = False

    def __init__(self):
        super().__init__(trailing_slash="/?")
