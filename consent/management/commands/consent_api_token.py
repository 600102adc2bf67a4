"""API tokens for the DNO's customer systems: printed once, only the SHA-256 stored."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from consent.api import token_hash
from consent.models import ApiToken


class Command(BaseCommand):
    help = "Issue (or revoke) a bearer token for the consent API; it acts as the given user."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="what the token is for, e.g. crm-production")
        parser.add_argument("--user", help="the service-account user the token acts as (issue)")
        parser.add_argument("--revoke", action="store_true", help="revoke the token with this name")

    def handle(self, *args, name: str, user: str | None, revoke: bool, **options) -> None:
        if revoke:
            if not ApiToken.objects.filter(name=name, revoked_at__isnull=True).update(revoked_at=timezone.now()):
                raise CommandError(f"no live token named {name!r}")
            self.stdout.write(f"revoked {name}")
            return
        account = User.objects.filter(username=user).first() if user else None
        if account is None:
            raise CommandError("give --user with an existing username (the token acts as that user)")
        if ApiToken.objects.filter(name=name).exists():
            raise CommandError(f"a token named {name!r} exists already")
        token = secrets.token_urlsafe(32)
        ApiToken.objects.create(name=name, user=account, token_sha256=token_hash(token))
        self.stdout.write(token)
