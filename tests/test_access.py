"""The one helper that decides who sees which patient (STYLE.md rule 5)."""

import pytest
from django.http import Http404
from django.urls import reverse

from registry import access
from tests import factories


@pytest.fixture
def two_patients(site, other_site):
    mine = factories.PatientFactory(study_id="MINE-1", site=site)
    theirs = factories.PatientFactory(study_id="THEIRS-1", site=other_site)
    return mine, theirs


def test_clinician_sees_only_own_sites(clinician, two_patients):
    mine, theirs = two_patients
    assert list(access.visible_patients(clinician)) == [mine]
    assert access.get_patient_for(clinician, pk=mine.pk) == mine
    with pytest.raises(Http404):
        access.get_patient_for(clinician, pk=theirs.pk)


def test_garbage_lookup_is_a_404_not_a_500(clinician, two_patients):
    with pytest.raises(Http404):
        access.get_patient_for(clinician, pk="not-a-number")


def test_admin_sees_every_site(admin_user, two_patients):
    assert set(access.visible_patients(admin_user)) == set(two_patients)


def test_user_without_profile_sees_nothing(db, two_patients, django_user_model):
    stranger = django_user_model.objects.create_user("stranger", password="x" * 12)
    assert not access.visible_patients(stranger).exists()
    assert access.role_of(stranger) is None
    assert not access.may_write_clinical(stranger)


def test_the_site_filter_selects_the_visible_patients(
    db, two_patients, clinician, researcher, admin_user, django_user_model, other_site
):
    """`patient_site_filter` (the research cohort's scope) is `visible_patients` by sites:
    the same patients for every kind of user, directly and through a relation."""
    from registry import models as m

    stranger = django_user_model.objects.create_user("stranger", password="x" * 12)
    both = factories.UserFactory(role="research", sites=[clinician.staff_profile.sites.get(),
                                                         other_site])  # fmt: skip
    for course_of in two_patients:
        factories.CourseFactory(patient=course_of)
    for user in (clinician, researcher, admin_user, stranger, both):
        expected = set(access.visible_patients(user))
        assert set(m.Patient.objects.filter(access.patient_site_filter(user, ""))) == expected
        courses = m.Course.objects.filter(access.patient_site_filter(user))
        assert {course.patient for course in courses} == expected
    assert len(set(access.visible_patients(both))) == 2


def test_superuser_is_admin(db, two_patients, django_user_model):
    root = django_user_model.objects.create_superuser("root", "r@example.org", "x" * 12)
    assert access.role_of(root) == "admin"
    assert access.visible_patients(root).count() == 2


def test_research_sees_no_identifiers_and_cannot_write(researcher):
    assert not access.may_see_identifiers(researcher)
    assert not access.may_write_clinical(researcher)


def test_clinician_may_write_and_see_identifiers(clinician):
    assert access.may_see_identifiers(clinician)
    assert access.may_write_clinical(clinician)


@pytest.mark.parametrize("url", ["/", "/admin/"])
def test_pages_need_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "login" in response.url


def test_login_page_is_open_and_uses_django_fields(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content


def test_sign_in_with_standard_fields(client, clinician):
    response = client.post(reverse("login"), {"username": "clin", "password": factories.PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
