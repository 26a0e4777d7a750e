"""Message templates and the reminder outbox for the roles that use them.

Clinic admins edit the patient message texts in the admin (with the preview) and see what was
sent; the front desk sees what was sent (and resends from /desk/messages/). The grants are
listed here, not read from clinic.roles, so replaying this migration always does the same; it
adds to the groups and leaves any permission a clinic granted by hand alone.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Front desk": ["booking.view_reminder"],
    "Clinic admin": [
        "booking.view_messagetemplate",
        "booking.add_messagetemplate",
        "booking.change_messagetemplate",
        "booking.delete_messagetemplate",
        "booking.view_reminder",
    ],
}


def _permissions(apps, perms):
    Permission = apps.get_model("auth", "Permission")
    found = []
    for perm in perms:
        app_label, codename = perm.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def grant(apps, schema_editor):
    booking = apps.get_app_config("booking")
    booking.models_module = True  # create_permissions skips apps without a models module
    create_permissions(booking, apps=apps, verbosity=0)
    booking.models_module = None
    Group = apps.get_model("auth", "Group")
    for role, perms in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*_permissions(apps, perms))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, perms in GRANTS.items():
        group = Group.objects.filter(name=role).first()
        if group is not None:
            group.permissions.remove(*_permissions(apps, perms))


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0003_patient_changes_and_aftercare"),
        ("booking", "0003_reminders_and_message_templates"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
