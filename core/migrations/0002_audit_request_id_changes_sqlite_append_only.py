"""The audit trail records the request or task that wrote an entry and the changed record's
fields before and after (new nullable columns: existing rows are not rewritten). On SQLite
(the embedded demo) every append-only table gets the triggers PostgreSQL already has."""

from django.db import migrations, models

from dnoctl.pg import append_only_trigger_sqlite_sql, run_sql_on_sqlite

APPEND_ONLY_TABLES = [
    "curtailment_auditentry",
    "curtailment_aspreport",
    "consent_consentchange",
    "dcc_servicerequesttransition",
    "dcc_inbounddocument",
    "dcc_inboundhandled",
]


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("consent", "0006_hcalcs_controller_type"),
        ("dcc", "0007_servicerequest_created_srv"),
        ("curtailment", "0009_auditentry_moves_to_core"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="request_id",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="The HTTP request or Celery task that wrote it",
                max_length=64,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="changes",
            field=models.JSONField(
                blank=True, help_text="The changed record's fields: {field: {before, after}}", null=True
            ),
        ),
        *[run_sql_on_sqlite(*append_only_trigger_sqlite_sql(table)) for table in APPEND_ONLY_TABLES],
    ]
