"""Views every process serves, whatever its URLs (the dashboard, the OpenADR VTN)."""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse


@login_not_required
def healthz_web(request):
    """For load balancers and launchers: this web process and its database answer. (Not
    the worker's health: a web process must stay in the pool while a worker restarts.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
