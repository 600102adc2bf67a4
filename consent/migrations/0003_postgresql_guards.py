"""PostgreSQL-only guards: tenancies never overlap; consent history is append-only."""

from django.db import migrations

from dnoctl.pg import append_only_trigger_sql, run_sql_on_postgresql

TENANCY_NO_OVERLAP = """
    CREATE EXTENSION IF NOT EXISTS btree_gist;
    ALTER TABLE consent_tenancy ADD CONSTRAINT tenancy_no_overlap
        EXCLUDE USING gist (premise_id WITH =, tstzrange(start, "end", '[)') WITH &&);
"""


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_initial")]

    operations = [
        run_sql_on_postgresql(TENANCY_NO_OVERLAP, "ALTER TABLE consent_tenancy DROP CONSTRAINT tenancy_no_overlap;"),
        run_sql_on_postgresql(*append_only_trigger_sql("consent_consentchange")),
    ]
