from core.roles import user_roles


def roles(request):
    """Hiding controls is a courtesy; every control view checks the permission again."""
    return user_roles(getattr(request, "user", None))
