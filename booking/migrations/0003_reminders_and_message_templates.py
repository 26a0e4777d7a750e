"""The reminder outbox and the message templates, seeded with the built-in English and Spanish texts.

The texts live in templates/emails/<kind>.<channel>.<language>.txt; the clinic edits its copies
in the admin. Rows that already exist are left alone.
"""

import django.db.models.deletion
from django.db import migrations, models


def seed_templates(apps, schema_editor):
    from booking.messaging.texts import default_texts

    MessageTemplate = apps.get_model("booking", "MessageTemplate")
    have = set(MessageTemplate.objects.filter(location__isnull=True).values_list("kind", "channel", "language"))
    MessageTemplate.objects.bulk_create(
        MessageTemplate(kind=kind, channel=channel, language=language, subject=subject, body=body)
        for (kind, channel, language), (subject, body) in sorted(default_texts().items())
        if (kind, channel, language) not in have
    )


def drop_default_templates(apps, schema_editor):
    apps.get_model("booking", "MessageTemplate").objects.filter(location__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('booking', '0002_sqlite_overlap_triggers'),
        ('clinic', '0002_roles'),
    ]

    operations = [
        migrations.CreateModel(
            name='MessageTemplate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('confirmation', 'Booking confirmation'), ('reminder_long', 'Early reminder'), ('reminder_short', 'Last reminder'), ('change', 'Appointment changed'), ('cancellation', 'Appointment cancelled'), ('aftercare', 'Aftercare advice'), ('waitlist_offer', 'Waitlist offer'), ('series_summary', 'Series summary')], max_length=20)),
                ('channel', models.CharField(choices=[('email', 'E-mail'), ('sms', 'SMS')], max_length=8)),
                ('language', models.CharField(choices=[('en', 'English'), ('es', 'Español')], max_length=5)),
                ('subject', models.CharField(blank=True, help_text='E-mail only.', max_length=200)),
                ('body', models.TextField()),
                ('active', models.BooleanField(default=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('location', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='message_templates', to='clinic.location')),
            ],
            options={
                'ordering': ['location_id', 'kind', 'channel', 'language'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('location__isnull', False)), fields=('location', 'kind', 'channel', 'language'), name='booking_messagetemplate_unique'), models.UniqueConstraint(condition=models.Q(('location__isnull', True)), fields=('kind', 'channel', 'language'), name='booking_messagetemplate_unique_default')],
            },
        ),
        migrations.CreateModel(
            name='Reminder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('confirmation', 'Booking confirmation'), ('reminder_long', 'Early reminder'), ('reminder_short', 'Last reminder'), ('change', 'Appointment changed'), ('cancellation', 'Appointment cancelled'), ('aftercare', 'Aftercare advice'), ('waitlist_offer', 'Waitlist offer'), ('series_summary', 'Series summary')], max_length=20)),
                ('channel', models.CharField(choices=[('email', 'E-mail'), ('sms', 'SMS')], max_length=8)),
                ('send_at', models.DateTimeField()),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed'), ('cancelled', 'Cancelled'), ('skipped', 'Skipped')], default='pending', max_length=12)),
                ('lease_until', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('generation', models.PositiveIntegerField(default=0)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('provider_message_id', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('appointment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reminders', to='booking.appointment')),
            ],
            options={
                'ordering': ['send_at', 'id'],
                'indexes': [models.Index(fields=['status', 'send_at'], name='booking_reminder_due_idx')],
                'constraints': [models.UniqueConstraint(fields=('appointment', 'kind', 'channel'), name='booking_reminder_unique_key'), models.CheckConstraint(condition=models.Q(models.Q(('status', 'sent'), _negated=True), ('sent_at__isnull', False), _connector='OR'), name='booking_reminder_sent_has_time')],
            },
        ),
        migrations.RunPython(seed_templates, drop_default_templates),
    ]
