"""Admin screens for the clinic's set-up: locations, rooms, providers, hours, closures, visit types."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Count, ForeignKey, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic import roles
from clinic.forms import WorkingHoursFormSet
from clinic.models import ApiToken, Closure, Location, Provider, Room, TimeOff, VisitType, WorkingHours


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    fields = ["name", "is_active"]


class ClosureInline(admin.TabularInline):
    model = Closure
    extra = 0
    fields = ["start_date", "end_date", "reason"]
    ordering = ["-start_date"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "phone", "room_count", "is_active"]
    list_filter = ["is_active", "timezone"]
    search_fields = ["name", "address", "phone", "email"]
    ordering = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "timezone", "is_active"]}),
        (_("Contact"), {"fields": ["address", "phone", "email"]}),
        (
            _("Patients' changes and aftercare"),
            {
                "fields": ["patient_change_cutoff_hours", "heat_advice", "aftercare_en", "aftercare_es"],
                "description": _(
                    "Leave an aftercare text empty to use the default wording, which follows the heat advice."
                ),
            },
        ),
    ]
    inlines = [RoomInline, ClosureInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Location]:
        return super().get_queryset(request).annotate(room_count=Count("rooms"))

    @admin.display(description=_("rooms"), ordering="room_count")
    def room_count(self, location: Location) -> int:
        return location.room_count  # type: ignore[attr-defined]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "is_active"]
    list_filter = ["location", "is_active"]
    search_fields = ["name", "location__name"]
    ordering = ["location__name", "name"]
    list_select_related = ["location"]


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
    extra = 0
    fields = ["weekday", "start", "end", "location"]
    ordering = ["weekday", "start"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkingHours]:
        return super().get_queryset(request).select_related("location")


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["display_name", "credentials", "location_names", "user", "is_active"]
    list_filter = ["is_active", "locations", "visit_types"]
    search_fields = ["display_name", "credentials", "user__username", "user__email"]
    ordering = ["display_name"]
    filter_horizontal = ["locations", "visit_types"]
    inlines = [WorkingHoursInline]
    fieldsets = [
        (None, {"fields": ["display_name", "credentials", "user", "is_active"]}),
        (_("Where and what"), {"fields": ["locations", "visit_types"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        return super().get_queryset(request).select_related("user").prefetch_related("locations")

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            # Offer accounts in the Provider role (and any already linked), not every patient's login.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(Q(groups__name=roles.PROVIDER) | Q(provider__isnull=False))
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("locations"))
    def location_names(self, provider: Provider) -> str:
        return ", ".join(location.name for location in provider.locations.all())


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["provider", "weekday", "start", "end", "location"]
    list_filter = ["location", "weekday", "provider"]
    search_fields = ["provider__display_name", "location__name"]
    ordering = ["provider__display_name", "weekday", "start"]
    list_select_related = ["provider", "location"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["provider", "start", "end", "reason"]
    list_filter = ["provider"]
    search_fields = ["provider__display_name", "reason"]
    ordering = ["-start"]
    date_hierarchy = "start"
    list_select_related = ["provider"]


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ["reason", "location", "start_date", "end_date"]
    list_filter = ["location"]
    search_fields = ["reason", "location__name"]
    ordering = ["-start_date"]
    date_hierarchy = "start_date"
    list_select_related = ["location"]


@admin.register(VisitType)
class VisitTypeAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "kind",
        "duration_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "needs_room",
        "bookable_online",
        "is_active",
    ]
    list_filter = ["kind", "needs_room", "bookable_online", "is_active"]
    search_fields = ["name", "slug"]
    ordering = ["kind", "name"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "is_active"]}),
        (_("Time"), {"fields": ["duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "needs_room"]}),
        (
            _("Online booking"),
            {"fields": ["bookable_online", "min_notice_minutes", "horizon_days", "slot_step_minutes"]},
        ),
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by a management command (the secret is shown once); here they are seen and revoked."""

    list_display = ["name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "user__email"]
    ordering = ["-created_at"]
    fields = ["name", "user", "token_hash", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "token_hash", "created_at", "last_used_at"]
    list_select_related = ["user"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("%(count)d token(s) revoked.") % {"count": count}, messages.SUCCESS)


admin.site.site_header = "Clinic administration"
admin.site.site_title = "Clinic admin"
admin.site.index_title = "Set-up, patients and appointments"
