from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry.access import role_of, visible_patients


def index(request: HttpRequest) -> HttpResponse:
    patients = visible_patients(request.user)
    return render(
        request,
        "home.html",
        {"role": role_of(request.user), "patient_count": patients.count()},
    )
