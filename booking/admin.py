"""Read-only admin views of appointments, series and their history.

Only booking/services/ writes these rows (it locks, checks overlaps and writes the audit
row), so the admin may look but never add, change or delete.
"""

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template import TemplateSyntaxError
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from audit.viewing import ShowsPatients
from booking.messaging import planning, texts, words
from booking.messaging.aftercare import aftercare_paragraphs, default_aftercare_paragraphs
from booking.models import (
    Appointment,
    AppointmentEvent,
    ManageLink,
    MessageKind,
    MessageTemplate,
    Reminder,
    Series,
    WaitlistEntry,
    WaitlistOffer,
)
from clinic.models import VisitType


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
    fields = readonly_fields = ("at", "action", "from_status", "to_status", "from_start", "to_start", "by", "reason")
    ordering = ["at", "id"]
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AppointmentEvent]:
        return super().get_queryset(request).select_related("by")


class AppointmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Appointment
    extra = 0
    fields = readonly_fields = ("session_number", "start", "status", "provider", "room")
    ordering = ["session_number", "start"]
    show_change_link = True
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appointment]:
        return super().get_queryset(request).select_related("provider", "room__location")


@admin.register(Appointment)
class AppointmentAdmin(ShowsPatients, ReadOnlyAdminMixin, admin.ModelAdmin):
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
class SeriesAdmin(ShowsPatients, ReadOnlyAdminMixin, admin.ModelAdmin):
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
class AppointmentEventAdmin(ShowsPatients, ReadOnlyAdminMixin, admin.ModelAdmin):
    patient_field = "appointment.patient_id"
    list_display = ["at", "action", "appointment", "from_status", "to_status", "by", "reason"]
    list_filter = ["action", "appointment__location", "appointment__provider"]
    search_fields = ["appointment__patient__first_name", "appointment__patient__last_name", "reason", "by__username"]
    date_hierarchy = "at"
    ordering = ["-at", "-id"]
    list_select_related = ["by", "appointment__patient", "appointment__provider", "appointment__location"]


# --- patient messages -------------------------------------------------------------------------


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["location", "kind", "channel", "language", "subject", "body", "active"]
        widgets = {"body": forms.Textarea(attrs={"rows": 16, "cols": 90})}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for field in ("subject", "body"):
            try:
                texts.render_text(data.get(field) or "", "", {})
            except TemplateSyntaxError as exc:
                self.add_error(field, _("This is not valid template text: %(error)s") % {"error": exc})
        if data.get("kind") != MessageKind.AFTERCARE:
            names = VisitType.objects.values_list("name", flat=True)
            found = words.clinical_words_in(f"{data.get('subject', '')}\n{data.get('body', '')}", names)
            if found:
                raise forms.ValidationError(
                    _(
                        "Messages other than aftercare must not say what the visit is for "
                        "(anyone may read a phone's screen). Please remove: %(words)s."
                    )
                    % {"words": ", ".join(sorted(set(found)))}
                )
        return data


def _sample_context(template: MessageTemplate) -> dict:
    """Made-up values for the preview: a visit next Monday at 09:00 at the template's location."""
    location = template.location
    tz = location.tz if location else timezone.get_default_timezone()
    today = timezone.localdate(timezone.now(), tz)
    monday = today + timedelta(days=7 - today.weekday())
    start = datetime.combine(monday, time(9), tzinfo=tz)
    language = template.language or "en"
    with translation.override(language):
        when = [start + timedelta(days=14 * n) for n in range(3)]
        sessions = [
            {
                "date": texts.format_local(at, texts.DATE_FORMATS, language),
                "time": texts.format_local(at, texts.TIME_FORMATS, language),
            }
            for at in when
        ]
    return {
        "patient_first_name": "Alex",
        "date": sessions[0]["date"],
        "time": sessions[0]["time"],
        "clinic_name": location.name if location else "Your clinic",
        "clinic_phone": location.phone if location else "(555) 555-0100",
        "clinic_email": location.email if location else "clinic@example.com",
        "clinic_address": location.address.strip() if location else "1 Example Street\nSpringfield",
        "manage_url": texts.manage_url(),
        "sessions": sessions,
        "aftercare": "\n\n".join(
            aftercare_paragraphs(location, language) if location else default_aftercare_paragraphs(language)
        ),
        "offer_expires": texts.format_local(start - timedelta(hours=2), texts.TIME_FORMATS, language),
    }


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm

    class Media:
        css = {"all": ["clinic-admin.css"]}  # no style="" attributes: the CSP forbids them

    list_display = ["kind", "channel", "language", "location", "active", "updated_at"]
    list_filter = ["kind", "channel", "language", "location", "active"]
    search_fields = ["subject", "body"]
    ordering = ["location__name", "kind", "channel", "language"]
    list_select_related = ["location"]
    readonly_fields = ["preview", "placeholders"]
    fieldsets = [
        (None, {"fields": ["location", "kind", "channel", "language", "active"]}),
        (_("Text"), {"fields": ["subject", "body", "placeholders"]}),
        (_("Preview (saved text, made-up patient)"), {"fields": ["preview"]}),
    ]

    @admin.display(description=_("preview"))
    def preview(self, template: MessageTemplate) -> str:
        if template.pk is None:
            return _("Save to see a preview.")
        try:
            subject, body = texts.render_text(template.subject, template.body, _sample_context(template))
        except TemplateSyntaxError as exc:
            return format_html('<p class="errornote">{}</p>', exc)
        heading = format_html("<p><strong>{}</strong></p>", subject) if subject else ""
        return format_html(
            '{}<pre class="message-preview">{}</pre><p>{}</p>',
            heading,
            body,
            _("%(count)s characters") % {"count": len(body)},
        )

    @admin.display(description=_("placeholders"))
    def placeholders(self, template: MessageTemplate) -> str:
        rows = format_html_join("", "<li><code>{{{{ {} }}}}</code>: {}</li>", texts.CONTEXT_HELP.items())
        return format_html("<ul>{}</ul>", rows)


@admin.register(Reminder)
class ReminderAdmin(ShowsPatients, ReadOnlyAdminMixin, admin.ModelAdmin):
    """What went out, what is waiting and what failed and why; "send again" for staff."""

    patient_field = "appointment.patient_id"

    list_display = ["send_at", "kind", "channel", "status", "attempts", "patient", "sent_at", "last_error"]
    list_filter = ["status", "kind", "channel", "appointment__location"]
    search_fields = [
        "appointment__patient__first_name",
        "appointment__patient__last_name",
        "offer__entry__patient__first_name",
        "offer__entry__patient__last_name",
        "last_error",
    ]
    date_hierarchy = "send_at"
    ordering = ["-send_at", "-id"]
    list_select_related = ["appointment__patient", "offer__entry__patient"]
    actions = ["send_again"]

    @admin.display(description=_("patient"), ordering="appointment__patient__last_name")
    def patient(self, reminder: Reminder) -> str:
        return str(reminder.patient)

    @admin.action(description=_("Send the selected messages again"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        now = timezone.now()
        count = sum(planning.resend(reminder, now=now) for reminder in queryset)
        self.message_user(request, _("%(count)s message(s) will be sent again shortly.") % {"count": count})
        if count < queryset.count():
            self.message_user(request, _("Messages being sent right now were left alone."), messages.WARNING)


@admin.register(ManageLink)
class ManageLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Which single-use links went out for a visit and whether they were used (the token is never stored)."""

    list_display = ["appointment", "created_at", "expires_at", "used_at", "used_for"]
    list_filter = ["used_for"]
    fields = readonly_fields = ("appointment", "created_at", "expires_at", "used_at", "used_for")
    date_hierarchy = "created_at"
    list_select_related = ["appointment__patient", "appointment__provider"]
    search_fields = ["appointment__patient__last_name", "appointment__patient__email"]


class WaitlistOfferInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WaitlistOffer
    extra = 0
    fields = readonly_fields = (
        "start",
        "provider",
        "status",
        "expires_at",
        "appointment",
        "created_by",
        "created_at",
    )  # never the token's hash or nonce


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The waitlist, read only: the desk page (/desk/waitlist/) and booking/services write it."""

    list_display = ["created_at", "patient", "visit_type", "location", "provider", "status"]
    list_filter = ["status", "location", "visit_type"]
    search_fields = ["patient__first_name", "patient__last_name"]
    list_select_related = ["patient", "visit_type", "location", "provider"]
    inlines = [WaitlistOfferInline]
