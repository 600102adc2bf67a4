"""The ledger of what devices did: the Duration each 7.6 asked for, and the unconfirmed end."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("curtailment", "0004_dcc_models_move_to_dcc_app"),
    ]

    operations = [
        migrations.AddField(
            model_name="curtailmentaction",
            name="commanded_minutes",
            field=models.PositiveSmallIntegerField(
                blank=True, help_text="The Duration the 7.6 asked the device for", null=True
            ),
        ),
        migrations.AlterField(
            model_name="curtailmentaction",
            name="end_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("duration", "Duration elapsed on the device"),
                    ("override", "Customer pressed the boost button"),
                    ("released", "Released early (7.8)"),
                    ("cancelled", "Event cancelled (7.8)"),
                    ("rotated", "Rotated out (fairness)"),
                    ("failed", "Command failed"),
                    ("late", "Replaced after no confirmation"),
                    ("unconfirmed", "Never confirmed by the device"),
                ],
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="curtailmentaction",
            name="expected_end_at",
            field=models.DateTimeField(help_text="Planned end; once confirmed, when the device reverts"),
        ),
        migrations.AlterField(
            model_name="curtailmentaction",
            name="started_at",
            field=models.DateTimeField(help_text="Dispatch time: planned minutes are reserved from here"),
        ),
    ]
