"""Adopt the DCC tables created by ``curtailment`` 0001 (state only: nothing in the database
changes here)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('consent', '0004_api_token_and_notification_digest'),
        ('curtailment', '0004_dcc_models_move_to_dcc_app'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
        migrations.CreateModel(
            name='DccRequestCounter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('originator_eui64', models.CharField(max_length=23, unique=True)),
                ('value', models.BigIntegerField(default=0)),
            ],
            options={
                'db_table': 'curtailment_dccrequestcounter',
            },
        ),
        migrations.CreateModel(
            name='ServiceRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('request_id', models.CharField(max_length=80, unique=True)),
                ('srv', models.CharField(max_length=8, verbose_name='SRV')),
                ('command_variant', models.PositiveSmallIntegerField()),
                ('originator_eui64', models.CharField(max_length=23)),
                ('target_eui64', models.CharField(max_length=23)),
                ('counter', models.BigIntegerField()),
                ('state', models.CharField(choices=[('built', 'Built and stored, not yet sent'), ('sent', 'Sent, awaiting acknowledgement'), ('acknowledged', 'Acknowledged (I0)'), ('rejected', 'Rejected by the DCC'), ('responded', 'Device responded'), ('failed', 'Failed'), ('timed_out', 'No device response in time')], default='built', max_length=14)),
                ('ack_code', models.CharField(blank=True, max_length=8)),
                ('response_code', models.CharField(blank=True, max_length=8)),
                ('request_document', models.TextField()),
                ('ack_document', models.TextField(blank=True)),
                ('response_document', models.TextField(blank=True)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                ('responded_at', models.DateTimeField(blank=True, null=True)),
                ('action', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='service_requests', to='curtailment.curtailmentaction')),
                ('hcalcs', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='service_requests', to='consent.hcalcs')),
                ('parent', models.ForeignKey(blank=True, help_text="The request this one completes (an 8.13 returning a locally delivered command's response)", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='children', to='dcc.servicerequest')),
            ],
            options={
                'db_table': 'curtailment_servicerequest',
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='ServiceRequestTransition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField()),
                ('from_state', models.CharField(blank=True, choices=[('built', 'Built and stored, not yet sent'), ('sent', 'Sent, awaiting acknowledgement'), ('acknowledged', 'Acknowledged (I0)'), ('rejected', 'Rejected by the DCC'), ('responded', 'Device responded'), ('failed', 'Failed'), ('timed_out', 'No device response in time')], max_length=14)),
                ('to_state', models.CharField(choices=[('built', 'Built and stored, not yet sent'), ('sent', 'Sent, awaiting acknowledgement'), ('acknowledged', 'Acknowledged (I0)'), ('rejected', 'Rejected by the DCC'), ('responded', 'Device responded'), ('failed', 'Failed'), ('timed_out', 'No device response in time')], max_length=14)),
                ('detail', models.TextField(blank=True)),
                ('service_request', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='transitions', to='dcc.servicerequest')),
            ],
            options={
                'db_table': 'curtailment_servicerequesttransition',
                'ordering': ['service_request_id', 'at', 'id'],
            },
        ),
        migrations.AddIndex(
            model_name='servicerequest',
            index=models.Index(fields=['target_eui64', 'created_at'], name='servicerequest_target'),
        ),
        migrations.AddConstraint(
            model_name='servicerequest',
            constraint=models.UniqueConstraint(fields=('originator_eui64', 'counter'), name='servicerequest_unique_counter'),
        ),
        migrations.AddConstraint(
            model_name='servicerequest',
            constraint=models.CheckConstraint(condition=models.Q(('command_variant__gte', 1), ('command_variant__lte', 8)), name='servicerequest_cv_1_to_8'),
        ),
            ],
            database_operations=[],
        ),
    ]
