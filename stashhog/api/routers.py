from rest_framework.routers import DefaultRouter


class OptionalSlashRouter(DefaultRouter):
    """Every API path answers with and without a trailing slash (no redirects)."""

    include_format_suffixes = False

    def __init__(self):
        super().__init__()
        # DRF's constructor turns any truthy trailing_slash into "/", so set it afterwards.
        self.trailing_slash = "/?"
