"""A patient's account (sign up, profile) and the front desk's queue of screening reviews."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clinic.access import patients_viewed, staff_only
from clinic.errors import DomainError
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from patients import services
from patients.access import patient_for
from patients.forms import ProfileForm, RegisterForm, ReviewForm
from patients.language import use_language
from patients.models import Language, Screening


def _safe_next(request: HttpRequest) -> str:
    """Where to go after signing up: a `next` on this site only (never an outside address)."""
    target = request.GET.get("next", "")
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if allowed else ""


def register(request: HttpRequest) -> HttpResponse:
    """Sign up: an e-mail and a password make the login and the patient record together."""
    if request.user.is_authenticated:
        return redirect("patients:profile")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        password = data.pop("password1")
        data.pop("password2")
        language = translation.get_language() or "en"
        try:
            patient = services.register_patient(
                password=password,
                preferred_language=language if language in Language.values else Language.ENGLISH,
                **data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            login(request, patient.user, backend="clinic.auth.RoleAwareBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect(_safe_next(request) or "booking:book_start")
    status = 422 if request.method == "POST" else 200
    return render(request, "patients/register.html", {"form": form}, status=status)


@login_required
def profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's own details: names, birth date, how to reach and remind them, language."""
    patient = patient_for(request.user)
    if patient is None:
        raise Http404
    form = ProfileForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            services.update_profile(patient=patient, by=request.user, **changes)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            use_language(request, patient.preferred_language)
            messages.success(request, _("Your details are saved."))
            return redirect("patients:profile")
    status = 422 if request.method == "POST" else 200
    return render(request, "patients/profile.html", {"form": form, "patient": patient}, status=status)


# --- the desk's review of screenings ----------------------------------------------------------


@staff_only
def review_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Screenings waiting for staff: a blocking answer stopped an online booking."""
    pending = list(
        Screening.objects.awaiting_review()
        .select_related("patient", "appointment__provider", "appointment__location", "appointment__visit_type")
        .order_by("created_at", "id")
    )
    rows = [ReviewRequest(screening, _wanted_when(screening)) for screening in pending]
    patients_viewed(request, {s.patient_id for s in pending})
    return render(request, "patients/review_list.html", {"rows": rows, "form": ReviewForm()})


@dataclass(frozen=True)
class ReviewRequest:
    screening: Screening
    wanted_when: str  # the booking it stopped, in the location's time ("" if none)


def _wanted_when(screening: Screening) -> str:
    wanted = screening.appointment
    return local_text(wanted.start, wanted.location.tz) if wanted else ""


@staff_only
@require_POST
def review_decide(request: AuthenticatedHttpRequest, screening_id: int) -> HttpResponse:
    """Approve (online booking opens again) or decline with a note."""
    screening = get_object_or_404(Screening.objects.select_related("patient"), pk=screening_id)
    patients_viewed(request, [screening.patient_id])
    form = ReviewForm(request.POST)
    decision = request.POST.get("decision")
    if not form.is_valid() or decision not in ("approve", "decline"):
        messages.error(request, _("Please choose approve or decline."))
        return redirect("patients:review_list")
    note = form.cleaned_data["note"]
    try:
        if decision == "approve":
            services.approve_screening(screening=screening, by=request.user, note=note)
            messages.success(request, _("Approved: %(name)s may book online now.") % {"name": screening.patient})
        else:
            services.decline_screening(screening=screening, by=request.user, note=note)
            messages.success(request, _("Declined for %(name)s.") % {"name": screening.patient})
    except DomainError as exc:
        messages.error(request, exc.detail)
    return redirect("patients:review_list")
