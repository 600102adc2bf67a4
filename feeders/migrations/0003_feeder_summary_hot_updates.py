"""Let ingest update a feeder's live summary in place.

Ingest rewrites ``status``, ``last_reading_at`` and ``last_load_percent`` on every batch.
With no index on those columns and free space left in each page (fillfactor), PostgreSQL
makes these heap-only-tuple (HOT) updates that touch no index at all.
"""

from django.db import migrations

from dnoctl.pg import run_sql_on_postgresql


class Migration(migrations.Migration):
    dependencies = [("feeders", "0002_postgresql_brin")]

    operations = [
        migrations.RemoveIndex(model_name="feeder", name="feeder_status_load"),
        run_sql_on_postgresql(
            "ALTER TABLE feeders_feeder SET (fillfactor = 70);",
            "ALTER TABLE feeders_feeder RESET (fillfactor);",
        ),
    ]
