from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Logging in: failed logins locked out (django-axes, audited), session lifetimes by role."""

    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.sessions import session_lifetime_on_login

        user_logged_in.connect(session_lifetime_on_login, dispatch_uid="accounts.session_lifetime")
