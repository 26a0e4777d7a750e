"""Admin screens that show patient data note which patients they showed, like the staff pages
do, so the access log covers the admin too. Add `ShowsPatients` first in a ModelAdmin's bases and
set `patient_field` to the path from a row to its patient id."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from clinic.access import patients_viewed


def _follow(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
    return obj


class ShowsPatients:
    patient_field = "patient_id"  # "pk" for Patient itself, "appointment.patient_id" for a reminder

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            ids = (_follow(row, self.patient_field) for row in changelist.result_list)
            patients_viewed(request, [pk for pk in ids if pk is not None])
        return response

    def changeform_view(self, request: HttpRequest, object_id: Any = None, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().changeform_view(request, object_id, *args, **kwargs)  # type: ignore[misc]
        shown = (getattr(response, "context_data", None) or {}).get("original")
        if shown is not None and (pk := _follow(shown, self.patient_field)) is not None:
            patients_viewed(request, [pk])
        return response
