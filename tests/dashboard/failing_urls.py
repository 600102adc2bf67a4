"""The project's URLs plus one view that fails, to see the 500 page the way a user does."""

from django.urls import path

from dnoctl.urls import urlpatterns as project_urlpatterns


def failing_view(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [*project_urlpatterns, path("failing/", failing_view)]
