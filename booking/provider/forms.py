"""The provider's procedure form: pain, notes, and formsets for the sites and what was injected."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.services import InjectateInput, SiteInput
from patients.models import Muscle, Side, Substance

SITE_ROWS = 6
INJECTATE_ROWS = 2
PAIN_CHOICES = [("", "—"), *((n, str(n)) for n in range(11))]  # no default: the provider asks


class LinkedErrors(forms.Form):
    """Bootstrap classes on every widget; a field with errors points at them (aria-describedby)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-describedby"] = f"{self[name].auto_id}-error"
                attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()


class RecordForm(LinkedErrors):
    pain_before = forms.TypedChoiceField(label=_("Pain before (0–10)"), choices=PAIN_CHOICES, coerce=int)
    pain_after = forms.TypedChoiceField(label=_("Pain after (0–10)"), choices=PAIN_CHOICES, coerce=int)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    complications = forms.CharField(
        label=_("Complications"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Leave empty if there were none."),
    )


def muscle_choices(muscles: list[Muscle]) -> list[Any]:
    """The muscles grouped by body region (one <optgroup> each), in the list's order."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for muscle in muscles:
        groups.setdefault(muscle.get_region_display(), []).append((muscle.pk, muscle.name))
    return [("", _("— choose —")), *groups.items()]


class SiteForm(LinkedErrors):
    muscle = forms.ModelChoiceField(
        label=_("Muscle"), queryset=Muscle.objects.none(), required=False, empty_label=_("— choose —")
    )
    side = forms.ChoiceField(label=_("Side"), choices=[("", "—"), *Side.choices], required=False)
    injections = forms.IntegerField(label=_("Injections"), min_value=1, max_value=20, required=False, initial=1)

    def __init__(self, *args: Any, muscles: Any = None, choices: list[Any] | None = None, **kwargs: Any) -> None:
        """`muscles` validates the posted id; `choices` (muscle_choices, made once per formset) is shown."""
        super().__init__(*args, **kwargs)
        field = self.fields["muscle"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = muscles if muscles is not None else Muscle.objects.filter(is_active=True)
        field.choices = choices if choices is not None else muscle_choices(list(field.queryset))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("muscle") and not data.get("side"):
            self.add_error("side", _("Choose the side."))
        if data.get("side") and not data.get("muscle"):
            self.add_error("muscle", _("Choose the muscle."))
        return data

    def site(self) -> SiteInput | None:
        data = self.cleaned_data
        if not data.get("muscle"):
            return None
        return SiteInput(muscle=data["muscle"], side=data["side"], injections=data.get("injections") or 1)


class BaseSiteFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            site = form.site()
            if site is None:
                continue
            key = (site.muscle.pk, site.side)
            if key in seen:
                form.add_error("muscle", _("This muscle and side are already listed."))
            seen.add(key)
        if not seen:
            raise forms.ValidationError(_("Record at least one site: a muscle and its side."))

    def sites(self) -> list[SiteInput]:
        return [site for form in self.forms if (site := form.site()) is not None]


SiteFormSet = forms.formset_factory(SiteForm, formset=BaseSiteFormSet, extra=SITE_ROWS, max_num=30, absolute_max=30)


class InjectateForm(LinkedErrors):
    substance = forms.ChoiceField(
        label=_("Substance"), choices=[("", _("— nothing —")), *Substance.choices], required=False
    )
    name = forms.CharField(label=_("Name"), max_length=80, required=False)
    strength_percent = forms.DecimalField(
        label=_("Strength (%)"), max_digits=4, decimal_places=2, min_value=0, max_value=100, required=False
    )
    volume_ml = forms.DecimalField(
        label=_("Volume (mL)"), max_digits=5, decimal_places=2, min_value=0.01, max_value=100, required=False
    )
    dose = forms.CharField(label=_("Dose"), max_length=40, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        substance = data.get("substance")
        if not substance:
            return data
        if substance == Substance.LOCAL_ANAESTHETIC:
            if data.get("strength_percent") is None:
                self.add_error("strength_percent", _("Give the strength in %."))
            if data.get("volume_ml") is None:
                self.add_error("volume_ml", _("Give the volume in mL."))
        elif data.get("volume_ml") is None and not data.get("dose"):
            self.add_error("volume_ml", _("Give a volume (mL) or a dose."))
        return data

    def injectate(self) -> InjectateInput | None:
        data = self.cleaned_data
        if not data.get("substance"):
            return None
        return InjectateInput(
            substance=data["substance"],
            name=data.get("name") or "",
            strength_percent=data.get("strength_percent"),
            volume_ml=data.get("volume_ml"),
            dose=data.get("dose") or "",
        )


class BaseInjectateFormSet(forms.BaseFormSet):
    def injectates(self) -> list[InjectateInput]:
        return [given for form in self.forms if (given := form.injectate()) is not None]


InjectateFormSet = forms.formset_factory(
    InjectateForm, formset=BaseInjectateFormSet, extra=INJECTATE_ROWS, max_num=10, absolute_max=10
)
