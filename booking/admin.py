"""Read-only admin views of appointments, series and their history.

Only booking/services/ writes these rows (it locks, checks overlaps and writes the audit
row), so the admin may look but never add, change or delete.
"""

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.models import Appointment, AppointmentEvent, Series


class ReadOnlyAdminMixin:
    """Hide add, change and delete (and with them the bulk delete action) in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class AppointmentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AppointmentEvent
    extra = 0
    fields = ["at", "action", "from_status", "to_status", "from_start", "to_start", "by", "reason"]
    readonly_fields = fields
    ordering = ["at", "id"]
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AppointmentEvent]:
        return super().get_queryset(request).select_related("by")


class AppointmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Appointment
    extra = 0
    fields = ["session_number", "start", "status", "provider", "room"]
    readonly_fields = fields
    ordering = ["session_number", "start"]
    show_change_link = True
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appointment]:
        return super().get_queryset(request).select_related("provider", "room__location")


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["start", "local_start", "patient", "provider", "location", "visit_type", "room", "status"]
    list_filter = ["status", "location", "provider", "visit_type"]
    search_fields = ["patient__first_name", "patient__last_name", "patient__email", "provider__display_name"]
    date_hierarchy = "start"
    ordering = ["-start"]
    list_select_related = ["patient", "provider", "location", "visit_type", "room__location"]
    inlines = [AppointmentEventInline]
    readonly_fields = ["local_start"]
    fieldsets = [
        (None, {"fields": ["patient", "provider", "location", "visit_type", "room", "status"]}),
        (_("Time (UTC)"), {"fields": ["start", "end", "local_start", "block_start", "block_end", "hold_expires_at"]}),
        (_("Series"), {"fields": ["series", "session_number"]}),
        (_("Notes"), {"fields": ["notes", "cancel_reason", "created_by", "created_at", "updated_at"]}),
    ]

    @admin.display(description=_("local start"), ordering="start")
    def local_start(self, appointment: Appointment) -> str:
        local = timezone.localtime(appointment.start, appointment.location.tz)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "patient",
        "visit_type",
        "provider",
        "location",
        "sessions_planned",
        "gap_days",
        "tolerance_days",
        "status",
        "created_at",
    ]
    list_filter = ["status", "location", "provider"]
    search_fields = ["patient__first_name", "patient__last_name", "patient__email", "provider__display_name"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["patient", "provider", "location", "visit_type"]
    inlines = [AppointmentInline]


@admin.register(AppointmentEvent)
class AppointmentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "action", "appointment", "from_status", "to_status", "by", "reason"]
    list_filter = ["action", "appointment__location", "appointment__provider"]
    search_fields = ["appointment__patient__first_name", "appointment__patient__last_name", "reason", "by__username"]
    date_hierarchy = "at"
    ordering = ["-at", "-id"]
    list_select_related = ["by", "appointment__patient", "appointment__provider", "appointment__location"]
