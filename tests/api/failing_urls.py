"""The project's URLs plus an API address whose view fails, to see what a machine client
gets from a bug."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from dnoctl.urls import urlpatterns as project_urlpatterns


@login_not_required
def failing_api_view(request):
    raise RuntimeError("a bug in an API view")


urlpatterns = [*project_urlpatterns, path("api/v1/failing/", failing_api_view)]
