"""Project-level views: the overview (landing page) and a health check."""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from feeders.models import Feeder


def overview(request):
    """Every feeder with its live load and status, riskiest first."""
    feeders = Feeder.objects.select_related("substation").order_by("-last_load_percent", "code")[:500]
    return render(request, "overview.html", {"feeders": feeders})


@login_not_required
def healthz(request):
    """For load balancers and the demo launcher: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
