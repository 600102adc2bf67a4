"""PostgreSQL-only guards: the audit trail and service-request history are append-only."""

from django.db import migrations

from dnoctl.pg import append_only_trigger_sql, run_sql_on_postgresql


class Migration(migrations.Migration):
    dependencies = [("curtailment", "0001_initial")]

    operations = [
        run_sql_on_postgresql(*append_only_trigger_sql("curtailment_auditentry")),
        run_sql_on_postgresql(*append_only_trigger_sql("curtailment_servicerequesttransition")),
    ]
