"""Protection lasts as long as the risk: events that live while their feeder is at risk, follow-on
actions (a charger may be picked again in one long event), and the time-to-failure clock."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("curtailment", "0006_asp_openadr"),
        ("feeders", "0003_feeder_summary_hot_updates"),
    ]

    operations = [
        migrations.CreateModel(
            name="FailureClock",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("computed_at", models.DateTimeField()),
                ("reading_at", models.DateTimeField(blank=True, null=True)),
                ("load_percent", models.FloatField(blank=True, null=True)),
                (
                    "slope_percent_per_minute",
                    models.FloatField(blank=True, help_text="None: too few recent readings", null=True),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("rising", "Rising towards its rating"),
                            ("over_rating", "Over its rating"),
                            ("steady", "Steady"),
                            ("falling", "Falling"),
                            ("unknown", "No fresh reading"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "minutes_to_rating",
                    models.FloatField(blank=True, help_text="None: not heading for its rating", null=True),
                ),
                (
                    "minutes_to_failure",
                    models.FloatField(blank=True, help_text="When its fuse would likely blow", null=True),
                ),
                ("over_rating_since", models.DateTimeField(blank=True, null=True)),
                ("relief_needed_kw", models.FloatField(default=0)),
                ("relief_confirmed_kw", models.FloatField(default=0)),
                ("relieved", models.BooleanField(default=False)),
                (
                    "stage",
                    models.CharField(
                        choices=[
                            ("waiting", "Waiting for confirmed relief"),
                            ("chargers", "More chargers called"),
                            ("asp", "ASP asked for more"),
                            ("operator", "Operator alarm"),
                        ],
                        default="waiting",
                        max_length=10,
                    ),
                ),
                ("stage_started_at", models.DateTimeField()),
                (
                    "relief_due_at",
                    models.DateTimeField(blank=True, help_text="When the current stage escalates", null=True),
                ),
                (
                    "exhausted",
                    models.BooleanField(default=False, help_text="Every eligible charger is at its usage limit"),
                ),
                (
                    "alarm",
                    models.TextField(blank=True, help_text="What the operator must know and do; empty when nothing"),
                ),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="curtailmentaction",
            name="action_one_per_hcalcs_per_event",
        ),
        migrations.AddField(
            model_name="curtailmentaction",
            name="extends",
            field=models.ForeignKey(
                blank=True,
                help_text="The live action of the same charger this one continues (a follow-on 7.6 sent before it ends)",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="curtailment.curtailmentaction",
            ),
        ),
        migrations.AddField(
            model_name="curtailmentevent",
            name="while_at_risk",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Lasts while its feeder is at risk: extended and rotated until the load stays below the clear level (automatic events; a manual one taken over as its planned end comes while an alert is open)",
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
                    ("extended", "Continued by a follow-on 7.6"),
                ],
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="failureclock",
            name="alert",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="feeders.feederalert",
            ),
        ),
        migrations.AddField(
            model_name="failureclock",
            name="event",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="curtailment.curtailmentevent",
            ),
        ),
        migrations.AddField(
            model_name="failureclock",
            name="feeder",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE, related_name="failure_clock", to="feeders.feeder"
            ),
        ),
    ]
