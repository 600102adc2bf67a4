"""Tables named after their new app (PostgreSQL and SQLite rename them in place; the
append-only trigger on the history table moves with it)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dcc", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelTable(
            name="dccrequestcounter",
            table=None,
        ),
        migrations.AlterModelTable(
            name="servicerequest",
            table=None,
        ),
        migrations.AlterModelTable(
            name="servicerequesttransition",
            table=None,
        ),
    ]
