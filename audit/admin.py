"""Read-only admin screens to search the audit trail: who changed which record (django-auditlog)
and who looked at which patients (AccessLog). Nobody can add, change or delete a row here.

audit sits below patients and knows no Patient: patients/admin.py extends the access log's
search to find a patient by name."""

from __future__ import annotations

from typing import Any

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.models import AccessLog


class NoWritesAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(NoWritesAdmin):
    list_display = ["at", "username", "method", "path", "patients_shown", "ip", "status"]
    list_filter = ["method", "status"]
    search_fields = ["username", "path", "ip", "request_id"]
    search_help_text = _("A username, a path, an address, a patient's id or name (e.g. 57 or Moreno).")
    date_hierarchy = "at"
    ordering = ["-at", "-id"]
    readonly_fields = [f.name for f in AccessLog._meta.fields]

    @admin.display(description=_("patients shown"))
    def patients_shown(self, entry: AccessLog) -> str:
        ids = entry.patients
        return ", ".join(str(pk) for pk in ids[:10]) + (f" (+{len(ids) - 10})" if len(ids) > 10 else "")

    def patient_ids_for(self, term: str) -> list[int]:
        """The patients a search term names: here by id only (patients/admin.py adds names)."""
        return [int(term)] if term.isdigit() else []

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Also find the rows that showed a patient, by id or by name."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return results, may_have_duplicates
        ids = self.patient_ids_for(term)
        if ids:
            by_patient = Q()
            for pk in ids:
                by_patient |= Q(patient_ids__contains=f",{pk},")
            results = results | queryset.filter(by_patient)
        return results, may_have_duplicates


admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class ChangeLogAdmin(LogEntryAdmin):
    """django-auditlog's screen, with deleting switched off too (it allows a cascade)."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ClinicUserAdmin(UserAdmin):
    """Logins are deactivated, never deleted: the audit trail keeps pointing at them."""

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
