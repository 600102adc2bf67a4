"""Which inbound documents their handler finished (append-only), so crashes are retried."""

import django.db.models.deletion
from django.db import migrations, models

from dnoctl.pg import append_only_trigger_sql, run_sql_on_postgresql


class Migration(migrations.Migration):
    dependencies = [
        ("dcc", "0005_device_outcome"),
    ]

    operations = [
        migrations.CreateModel(
            name="InboundHandled",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("handled_at", models.DateTimeField(auto_now_add=True)),
                (
                    "document",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="handled", to="dcc.inbounddocument"
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
        ),
        run_sql_on_postgresql(*append_only_trigger_sql("dcc_inboundhandled")),
    ]
