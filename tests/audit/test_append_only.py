"""On PostgreSQL the app's own database role cannot UPDATE or DELETE audit rows: a trigger
refuses it, even for the tables' owner (HIPAA 164.312(b)/(c)(1); ASVS 16.4.2). CI runs this with
DATABASE_URL set to PostgreSQL; on SQLite it is skipped (development only)."""

import pytest
from auditlog.models import LogEntry
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AccessLog
from audit.registry import AUDIT_TABLES
from booking import services
from booking.models import AppointmentEvent
from booking.scheduling.availability import STAFF_POLICY
from patients.models import Screening
from tests.conftest import MONDAY

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's"),
]


@pytest.fixture
def rows(clinic, desk_user, frozen):
    services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=desk_user,
        policy=STAFF_POLICY,
    )
    Screening.objects.create(patient=clinic.alice)
    AccessLog.objects.create(at=timezone.now(), method="GET", path="/desk/", status=200, patient_ids=",1,")
    return {
        "auditlog_logentry": LogEntry.objects.latest("pk"),
        "audit_accesslog": AccessLog.objects.latest("pk"),
        "booking_appointmentevent": AppointmentEvent.objects.latest("pk"),
    }


@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_the_apps_connection_cannot_update_or_delete_audit_rows(rows, table):
    row = rows[table]
    quoted = connection.ops.quote_name(table)  # a fixed table name from AUDIT_TABLES
    for statement in (f"UPDATE {quoted} SET id = id WHERE id = %s", f"DELETE FROM {quoted} WHERE id = %s"):  # noqa: S608
        with (
            pytest.raises(DatabaseError, match="audit rows cannot be changed or deleted"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [row.pk])
    assert type(row).objects.filter(pk=row.pk).exists()


def test_the_orm_is_refused_too(rows):
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessLog.objects.filter(pk=rows["audit_accesslog"].pk).update(path="/elsewhere")
    with pytest.raises(DatabaseError), transaction.atomic():
        rows["auditlog_logentry"].delete()


def test_new_audit_rows_can_still_be_added(rows):
    AccessLog.objects.create(at=timezone.now(), method="GET", path="/desk/", status=200, patient_ids=",2,")
    assert AccessLog.objects.count() == 2
