"""Who may do what. StashHog has one kind of operator: an active staff user.

- The API, both job WebSockets and the job monitor: staff (``IsAdminUser`` is DRF's
  ``is_staff`` check; it is the project default in ``REST_FRAMEWORK``).
- Settings and the connection tests: a superuser, since they hold the keys to Stash and to
  the AI server and make StashHog send requests to a URL the caller chooses.
- ``/api/schema``, ``/api/docs``, ``/api/redoc``: any signed-in user.
- ``/api/health``: anyone (it reveals component states only).
"""

from rest_framework.permissions import BasePermission


class IsSuperuser(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_superuser)
