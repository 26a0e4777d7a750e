"""Forms of the patient pages: sign-up, profile, safety screening; and the desk's review."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patients.models import Patient
from patients.services import PROFILE_FIELDS

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def _past_birth_date(value: date | None) -> None:
    if value is not None and (value > timezone.localdate() or value.year < 1900):
        raise ValidationError(_("Please enter your date of birth (it cannot be in the future)."))


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = PROFILE_FIELDS
        widgets = {"date_of_birth": DateInput()}
        help_texts = {
            "phone": _("For text-message reminders, e.g. +1 423 555 0100."),
            "preferred_language": _("Your pages, e-mails and text messages use this language."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        self.fields["date_of_birth"].widget.attrs["autocomplete"] = "bday"
        self.fields["phone"].widget.attrs["autocomplete"] = "tel"
        self.fields["email"].widget.attrs["autocomplete"] = "email"

    def clean_date_of_birth(self) -> date | None:
        value = self.cleaned_data.get("date_of_birth")
        _past_birth_date(value)
        return value


class RegisterForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=80)
    last_name = forms.CharField(label=_("Last name"), max_length=80)
    date_of_birth = forms.DateField(label=_("Date of birth"), widget=DateInput(), validators=[_past_birth_date])
    email = forms.EmailField(label=_("E-mail"), help_text=_("You log in with this address."))
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters; not only numbers, not a common password."),
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, hint in (
            ("first_name", "given-name"),
            ("last_name", "family-name"),
            ("date_of_birth", "bday"),
            ("email", "email"),
        ):
            self.fields[name].widget.attrs["autocomplete"] = hint

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            try:
                password_validation.validate_password(first)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


YES_NO = [(True, _("Yes")), (False, _("No"))]


def _yes_no(label: StrOrPromise) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, choices=YES_NO, coerce=lambda value: value in (True, "True"), widget=forms.RadioSelect
    )


class ScreeningForm(forms.Form):
    """Each question answered yes or no on purpose: no pre-ticked answers."""

    infection_near_site = _yes_no(_("Do you have an infection at or near the place to be injected?"))
    systemic_infection = _yes_no(_("Do you have an infection anywhere in your body, or a fever?"))
    anaesthetic_allergy = _yes_no(_("Are you allergic to local anaesthetic (lidocaine)?"))
    latex_allergy = _yes_no(_("Are you allergic to latex?"))
    bleeding_disorder = _yes_no(_("Do you have a bleeding or clotting disorder?"))
    blood_thinner = _yes_no(
        _("Do you take a blood thinner (e.g. apixaban/Eliquis, aspirin, clopidogrel/Plavix, warfarin/Coumadin)?")
    )
    blood_thinner_names = forms.CharField(
        label=_("If yes, which one?"), max_length=200, required=False, help_text=_("Name and dose if you know them.")
    )
    needle_fear = _yes_no(_("Do you have a strong fear of needles?"))
    notes = forms.CharField(
        label=_("Anything else the provider should know?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when declining: say why and what the patient should do."),
    )
