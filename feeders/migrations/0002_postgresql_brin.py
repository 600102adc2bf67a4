"""PostgreSQL-only: a BRIN index on readings' arrival time (tiny, and rows arrive in order)."""

from django.db import migrations

from dnoctl.pg import run_sql_on_postgresql


class Migration(migrations.Migration):
    dependencies = [("feeders", "0001_initial")]

    operations = [
        run_sql_on_postgresql(
            "CREATE INDEX reading_received_brin ON feeders_feederreading USING brin (received_at);",
            "DROP INDEX IF EXISTS reading_received_brin;",
        ),
    ]
