"""Non-API pages of the jobs app: the job monitor at ``/jobs/``."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import re_path
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie  # the page's cancel button sends the token with its DELETE
def job_monitor(request):
    return render(request, "jobs/monitor.html")


urlpatterns = [re_path(r"^jobs/?$", job_monitor, name="job-monitor")]
