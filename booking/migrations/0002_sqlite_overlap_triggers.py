"""On SQLite, triggers stand in for PostgreSQL's exclusion constraints as a last line of defence.

The booking service already checks for overlaps inside an IMMEDIATE transaction; these triggers
make any other write (admin, shell, a future bug) fail the same way, with the constraint's name.
Datetimes are compared as Django's UTC text, which sorts like the instants it encodes.
"""

from django.db import migrations

OCCUPYING = "('held', 'booked', 'checked_in', 'completed')"


def _trigger(event: str, resource: str, exclude_self: str) -> str:
    column = f"{resource}_id"
    name = f"booking_appointment_no_{resource}_overlap"
    return f"""
CREATE TRIGGER IF NOT EXISTS {name}_{event.lower()}
BEFORE {event} ON booking_appointment
WHEN NEW.status IN {OCCUPYING} AND NEW.{column} IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, '{name}') WHERE EXISTS (
        SELECT 1 FROM booking_appointment AS other
        WHERE other.{column} = NEW.{column}
          AND other.status IN {OCCUPYING}
          AND other.block_start < NEW.block_end
          AND other.block_end > NEW.block_start
          {exclude_self}
    );
END;
"""


STATEMENTS = [
    _trigger("INSERT", "provider", ""),
    _trigger("INSERT", "room", ""),
    _trigger("UPDATE", "provider", "AND other.id <> NEW.id"),
    _trigger("UPDATE", "room", "AND other.id <> NEW.id"),
]
DROPS = [
    f"DROP TRIGGER IF EXISTS booking_appointment_no_{r}_overlap_{e}"
    for r in ("provider", "room")
    for e in ("insert", "update")
]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in STATEMENTS:
        schema_editor.execute(sql)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in DROPS:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]
    operations = [migrations.RunPython(create_triggers, drop_triggers)]
