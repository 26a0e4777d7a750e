from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinic.models import Location, VisitType


def home(request: HttpRequest) -> HttpResponse:
    """The public front page: where the clinic is and what can be booked."""
    context = {
        "locations": Location.objects.filter(is_active=True),
        "visit_types": VisitType.objects.filter(is_active=True, bookable_online=True),
    }
    return render(request, "clinic/home.html", context)
