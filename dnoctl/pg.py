"""Helpers for PostgreSQL-only schema pieces in migrations (no-ops on SQLite).

The embedded demo runs on SQLite, where these guarantees are kept by ``clean()`` and the
services; in production PostgreSQL enforces them as well.
"""

from __future__ import annotations

from django.db import migrations


def run_sql_on_postgresql(forward: str, backward: str) -> migrations.RunPython:
    """A migration operation that runs SQL only when the database is PostgreSQL."""

    def _forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(forward, params=None)

    def _backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(backward, params=None)

    return migrations.RunPython(_forward, _backward)


def append_only_trigger_sql(table: str) -> tuple[str, str]:
    """SQL creating (and dropping) a trigger that refuses UPDATE and DELETE on ``table``."""
    forward = f"""
        CREATE OR REPLACE FUNCTION dnoctl_refuse_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME;
        END;
        $$ LANGUAGE plpgsql;
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION dnoctl_refuse_change();
    """
    backward = f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
    return forward, backward
