"""Where the consent app's database use differs between PostgreSQL and SQLite (the embedded demo)."""

from __future__ import annotations

from django.db import connection


def postgresql() -> bool:
    return connection.vendor == "postgresql"


def premises_import_lock() -> None:
    """Until the transaction ends; SQLite serialises writes by itself."""
    if postgresql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('consent.premises_import'))")
