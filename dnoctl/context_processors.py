"""Template context shared by every page."""

from core.roles import user_roles


def roles(request):
    """Which controls to show: ``can_control`` (operators) and ``can_configure`` (engineers).

    Hiding controls is a courtesy; every control view checks the permission again.
    """
    return user_roles(getattr(request, "user", None))
