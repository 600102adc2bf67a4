"""Adopt the audit table created by ``curtailment`` 0001 (state only: the rows and the
PostgreSQL append-only trigger stay). The content type moves with the model, so the
permissions already granted on it (the engineers' ``view_auditentry``) keep working."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_type_to_core(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="core", model="auditentry").exists():
        content_type.objects.filter(app_label="curtailment", model="auditentry").update(app_label="core")


def content_type_to_curtailment(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="curtailment", model="auditentry").exists():
        content_type.objects.filter(app_label="core", model="auditentry").update(app_label="curtailment")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
        ("curtailment", "0009_auditentry_moves_to_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("at", models.DateTimeField(db_index=True)),
                        (
                            "actor",
                            models.CharField(
                                help_text="User name, or 'rule:<name>' for automatic decisions", max_length=100
                            ),
                        ),
                        ("action", models.CharField(db_index=True, max_length=64)),
                        ("target_type", models.CharField(blank=True, max_length=64)),
                        ("target_id", models.CharField(blank=True, max_length=64)),
                        ("reason", models.TextField(blank=True)),
                        ("inputs", models.JSONField(blank=True, default=dict)),
                        (
                            "actor_user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "audit entries",
                        "db_table": "curtailment_auditentry",
                        "ordering": ["-at", "-id"],
                        "indexes": [models.Index(fields=["target_type", "target_id"], name="audit_target")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_core, content_type_to_curtailment),
    ]
