"""The DCC models move to the ``dcc`` app: state only, the tables stay (``dcc`` 0001 adopts
them and ``dcc`` 0002 renames them)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("curtailment", "0003_servicerequest_parent_help"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="DccRequestCounter",
                ),
                migrations.RemoveField(
                    model_name="servicerequesttransition",
                    name="service_request",
                ),
                migrations.DeleteModel(
                    name="ServiceRequest",
                ),
                migrations.DeleteModel(
                    name="ServiceRequestTransition",
                ),
            ],
            database_operations=[],
        ),
    ]
