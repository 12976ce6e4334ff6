"""Non-API pages of the jobs app: the job monitor at ``/jobs/``."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import re_path
from django.views.decorators.csrf import ensure_csrf_cookie


def staff_required(view):
    """Anonymous visitors go to the login page; signed-in users who are not staff get 403
    (sending them to log in again would loop)."""

    @wraps(view)
    @login_required
    def staff_only(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return staff_only


@staff_required  # the page shows every job and can cancel them, as the API does for staff
@ensure_csrf_cookie  # the page's cancel button sends the token with its DELETE
def job_monitor(request):
    return render(request, "jobs/monitor.html")


urlpatterns = [re_path(r"^jobs/?$", job_monitor, name="job-monitor")]
