"""An index for the DCC command budget (ADT): requests per SRV over the last hour and day."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dcc", "0006_inbound_handled"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="servicerequest",
            index=models.Index(fields=["created_at", "srv"], name="servicerequest_created_srv"),
        ),
    ]
