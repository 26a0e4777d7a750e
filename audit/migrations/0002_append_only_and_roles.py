"""Audit rows are append-only on PostgreSQL: a trigger refuses UPDATE and DELETE of any row,
whoever asks (the table's owner too, unlike a REVOKE). TRUNCATE, which the test suite's flush
uses, is not a row operation and stays possible for the owner. SQLite has no such guard
(development only). Also gives the Clinic admin role the audit screens' permissions."""

from django.db import migrations

TABLES = ("auditlog_logentry", "audit_accesslog", "booking_appointmentevent")

CREATE = """
CREATE OR REPLACE FUNCTION audit_rows_are_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit rows cannot be changed or deleted (%% on %%)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE)
    for table in TABLES:
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
        schema_editor.execute(
            f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION audit_rows_are_append_only()"
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_rows_are_append_only()")


def sync_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from clinic.roles import PERMISSIONS

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is not None:
                group.permissions.add(found)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_access_log"),
        ("auditlog", "0017_add_actor_email"),
        ("axes", "0010_accessattemptexpiration"),
        ("otp_totp", "0003_add_timestamps"),
        ("booking", "0003_reminders_and_message_templates"),
        ("clinic", "0002_roles"),
    ]
    operations = [
        migrations.RunPython(install, uninstall),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
