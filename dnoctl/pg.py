"""Database-specific schema pieces for migrations; SQLite gets append-only triggers too, so the
demo's history is as unchangeable as production's."""

from __future__ import annotations

from django.db import migrations


def run_sql_on_postgresql(forward: str, backward: str) -> migrations.RunPython:

    def _forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(forward, params=None)

    def _backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(backward, params=None)

    return migrations.RunPython(_forward, _backward)


def append_only_trigger_sql(table: str) -> tuple[str, str]:
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


def run_sql_on_sqlite(forward: list[str], backward: list[str]) -> migrations.RunPython:

    def _run(statements: list[str]):
        def run(apps, schema_editor):
            if schema_editor.connection.vendor == "sqlite":
                for statement in statements:
                    schema_editor.execute(statement, params=None)

        return run

    return migrations.RunPython(_run(forward), _run(backward))


def append_only_trigger_sqlite_sql(table: str) -> tuple[list[str], list[str]]:
    """A table rebuilt by a later migration loses these triggers: such a migration must create them again."""
    forward = [
        f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_{event.lower()} BEFORE {event} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only'); END"
        for event in ("UPDATE", "DELETE")
    ]
    backward = [f"DROP TRIGGER IF EXISTS {table}_append_only_{event}" for event in ("update", "delete")]
    return forward, backward
