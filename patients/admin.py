"""Admin screen for patients: find one by name, phone, e-mail or date of birth; and the access
log's search extended to find the rows that showed a patient by name."""

import re
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import ForeignKey, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.admin import AccessLogAdmin
from audit.models import AccessLog
from audit.viewing import ShowsPatients
from clinic import roles
from patients.models import Injectate, Muscle, Patient, PatientQuerySet, ProcedureRecord, ProcedureSite

# Desk staff type US dates; Patient.objects.search() understands ISO dates.
_US_DATE = re.compile(r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})$")


def _iso_dates(query: str) -> str:
    """Rewrite words like 3/14/1972 as 1972-03-14 so they match a date of birth."""
    words = []
    for word in query.split():
        match = _US_DATE.match(word)
        if match:
            word = f"{match['year']}-{int(match['month']):02d}-{int(match['day']):02d}"
        words.append(word)
    return " ".join(words)


@admin.register(Patient)
class PatientAdmin(ShowsPatients, admin.ModelAdmin):
    patient_field = "pk"
    list_display = ["last_name", "first_name", "date_of_birth", "phone", "email", "preferred_language"]
    list_display_links = ["last_name", "first_name"]
    list_filter = ["preferred_language", "reminder_channel"]
    # The search itself is Patient.objects.search(); these fields only switch the search box on.
    search_fields = ["first_name", "last_name", "email", "phone"]
    search_help_text = _("Name, phone, e-mail or date of birth (YYYY-MM-DD or MM/DD/YYYY).")
    ordering = ["last_name", "first_name"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["first_name", "last_name", "date_of_birth"]}),
        (_("Contact"), {"fields": ["phone", "email", "preferred_language", "reminder_channel"]}),
        (_("Emergency contact"), {"fields": ["emergency_contact_name", "emergency_contact_phone"]}),
        (_("Account"), {"fields": ["user", "created_at", "updated_at"]}),
    ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Patient], search_term: str
    ) -> tuple[QuerySet[Patient], bool]:
        if not search_term.strip():
            return queryset, False
        assert isinstance(queryset, PatientQuerySet)
        return queryset.search(_iso_dates(search_term)), False

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            # Offer patient logins only (and any already linked), never a staff account.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(Q(groups__name=roles.PATIENT) | Q(patient__isnull=False))
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Muscle)
class MuscleAdmin(admin.ModelAdmin):
    """The clinic's list of muscles providers pick sites from; add any skeletal muscle here."""

    list_display = ["name", "region", "near_chest_wall", "is_active"]
    list_filter = ["region", "is_active", "near_chest_wall"]
    list_editable = ["is_active"]
    search_fields = ["name"]


class ProcedureSiteInline(admin.TabularInline):
    model = ProcedureSite
    extra = 0
    can_delete = False
    readonly_fields = ["muscle", "side", "injections"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InjectateInline(admin.TabularInline):
    model = Injectate
    extra = 0
    can_delete = False
    readonly_fields = ["substance", "name", "strength_percent", "volume_ml", "dose"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProcedureRecord)
class ProcedureRecordAdmin(admin.ModelAdmin):
    """Read-only: records are written by providers through booking.services.record_procedure."""

    list_display = ["appointment", "cpt_code", "pain_before", "pain_after", "recorded_by", "updated_at"]
    list_filter = ["cpt_code"]
    list_select_related = ["appointment__patient", "appointment__provider", "recorded_by"]
    inlines = [ProcedureSiteInline, InjectateInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ProcedureRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# audit registers the access log's screen; patients, above audit, swaps in one whose search also
# knows patients by name (audit must not import Patient).
admin.site.unregister(AccessLog)


@admin.register(AccessLog)
class AccessLogByPatientAdmin(AccessLogAdmin):
    def patient_ids_for(self, term: str) -> list[int]:
        """A patient's id, or up to 50 patients found by name (Patient.objects.search)."""
        if term.isdigit():
            return [int(term)]
        return list(Patient.objects.search(term).values_list("pk", flat=True)[:50])
