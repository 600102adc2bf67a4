"""What the device answered, decoded from its GBCS, kept on the request."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dcc", "0004_device_certificate"),
    ]

    operations = [
        migrations.AddField(
            model_name="servicerequest",
            name="device_outcome",
            field=models.CharField(
                blank=True, help_text="What the device's GBCS answer said, decoded and authenticated", max_length=200
            ),
        ),
    ]
