"""factory_boy factories for the clinical models."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from registry import models

PASSWORD = "correct-horse-battery"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        profile = models.StaffProfile.objects.create(user=obj, role=extracted or "clinician")
        obj._profile = profile
        obj.save()

    @factory.post_generation
    def sites(obj, create, extracted, **kwargs):
        if extracted:
            obj._profile.sites.set(extracted)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Patient

    study_id = factory.Sequence(lambda n: f"P-{n:04d}")
    site = factory.SubFactory(SiteFactory)
    sex = "F"
    primary_site = "pancreas"
    diagnosis_date = dt.date(2000, 1, 1)


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PatientIdentity

    patient = factory.SubFactory(PatientFactory)
    name = "Jan Jansen"
    hospital_number = factory.Sequence(lambda n: f"H{n:07d}")
    birth_date = dt.date(1950, 5, 5)


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Course

    patient = factory.SubFactory(PatientFactory)
    phase = "salvage"
    intended_activity_gbq = 14.8


class CycleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Cycle

    course = factory.SubFactory(CourseFactory)
    date = dt.date(2005, 6, 1)
    administered_gbq = 7.4


class LabFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.LabResult

    patient = factory.SubFactory(PatientFactory)
    date = dt.date(2005, 7, 1)
    analyte = "platelets"
    value = 150.0
    unit = "10^9/L"
    canonical_value = factory.LazyAttribute(lambda o: o.value)


class ScanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Scan

    patient = factory.SubFactory(PatientFactory)
    date = dt.date(2005, 5, 20)
    modality = "CT"


class LesionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.LesionMeasurement

    scan = factory.SubFactory(ScanFactory)
    lesion = factory.Sequence(lambda n: f"L{n}")
    organ = "liver"
    target = True
    long_mm = 40.0
    short_mm = 30.0
