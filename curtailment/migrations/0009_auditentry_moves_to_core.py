"""The audit trail moves to the ``core`` app: state only, the table and its append-only
trigger stay (``core`` 0001 adopts them)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("curtailment", "0008_action_kind_level"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
            database_operations=[],
        ),
    ]
