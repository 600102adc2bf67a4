"""Devices' GBCS certificates (SMKI), which authenticate their answers."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dcc", "0003_inbound_document"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeviceCertificate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("eui64", models.CharField(max_length=23, verbose_name="EUI-64")),
                ("usage", models.CharField(choices=[("DS", "Digital signing"), ("KA", "Key agreement")], max_length=2)),
                ("certificate", models.TextField(help_text="PEM")),
                ("source", models.CharField(help_text="Where it came from (file, SMKI, simulator)", max_length=100)),
                ("added_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("eui64", "usage"), name="device_certificate_one_per_usage")
                ],
            },
        ),
    ]
