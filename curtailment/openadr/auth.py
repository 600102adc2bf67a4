"""Bearer tokens for providers' VENs (OAuth 2 client credentials): signed with ``SECRET_KEY`` and
timestamped, so any VTN process checks them without a token table; switching a VEN off refuses its
tokens at once."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from curtailment.models import AspVen

SALT = "dnoctl.openadr.vtn-token"
# What a VEN may do here: read its programmes and events, write reports on them. dnoctl
# itself is the only business-logic client (it writes events through the database), so
# no token ever carries write_programs or write_events.
VEN_SCOPES = ("read_all", "write_reports")


class ScopeRefused(ValueError):
    """A scope this VTN does not grant to VENs."""


def scopes_granted(requested: str | None) -> list[str]:
    """The scopes a VEN gets for what it asked (all of ``VEN_SCOPES`` when it named none)."""
    asked = (requested or "").split()
    unknown = [scope for scope in asked if scope not in VEN_SCOPES]
    if unknown:
        raise ScopeRefused(f"scope {' '.join(unknown)} is not granted to VENs (only {' '.join(VEN_SCOPES)})")
    return asked or list(VEN_SCOPES)


def token_issue(*, ven: AspVen, scopes: list[str]) -> tuple[str, int]:
    token = signing.TimestampSigner(salt=SALT).sign_object({"ven": ven.pk, "scopes": scopes}, compress=True)
    return token, int(settings.OPENADR["TOKEN_TTL_S"])


def token_ven(token: str) -> tuple[AspVen, list[str]] | None:
    """The active VEN a token was issued to, with its scopes; None when it is not ours, lapsed, or its VEN is off."""
    try:
        claims = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=settings.OPENADR["TOKEN_TTL_S"])
    except signing.BadSignature:
        return None
    ven = AspVen.objects.filter(pk=claims.get("ven"), active=True).first()
    return (ven, list(claims.get("scopes") or [])) if ven is not None else None
