"""Words on the pages, not codes: range messages name their unit, a cycle's course is
chosen when only one is going on, history lines that change nothing are not shown,
drill-down lists say in words what they hold."""

from __future__ import annotations

from django.urls import reverse

from registry.models import Course
from registry.records import selectors
from registry.research.drill import describe_drill
from tests import factories


def test_range_messages_name_the_unit(client, clinician, site):
    patient = factories.PatientFactory(site=site)
    course = factories.CourseFactory(patient=patient)
    client.force_login(clinician)
    response = client.post(
        reverse("cycle_new", args=[patient.pk]),
        {"course": course.pk, "date": "2005-06-01", "administered_gbq": "500"},
    )
    assert "At most 15 GBq." in response.content.decode()
    response = client.post(reverse("patient_edit", args=[patient.pk]), {"ki67_percent": "101"})
    assert "At most 100 %." in response.content.decode()


def test_the_one_open_course_is_chosen_for_a_cycle(client, clinician, site):
    patient = factories.PatientFactory(site=site)
    done = factories.CourseFactory(patient=patient, phase="regular")
    Course.objects.filter(pk=done.pk).update(stop_reason="completed")
    going = factories.CourseFactory(patient=patient, phase="salvage")
    client.force_login(clinician)
    html = client.get(reverse("cycle_new", args=[patient.pk])).content.decode()
    assert f'<option value="{going.pk}" selected>' in html
    factories.CourseFactory(patient=patient, phase="salvage")  # two open: the clinician chooses
    html = client.get(reverse("cycle_new", args=[patient.pk])).content.decode()
    select = html.split('name="course"', 1)[1].split("</select>", 1)[0]
    assert '<option value="" selected>' in select  # nothing chosen


def test_a_save_that_changes_nothing_leaves_no_history_line(clinician, site):
    patient = factories.PatientFactory(site=site, study_id="HX-1")
    patient.save()  # nothing changed
    patient.ki67_percent = 12.0
    patient.save()
    lines = [
        e
        for e in selectors.patient_history(patient, user=clinician)
        if e.what.startswith("Patient")
    ]
    assert [e.action for e in lines] == ["changed", "created"]
    assert lines[0].changes == [("Ki-67 (%)", None, 12.0)]


def test_drill_downs_in_words():
    assert describe_drill("intended:below") == "intended activity: not reached"
    assert describe_drill("grade_platelets:na") == "worst platelets not assessed"
    assert describe_drill("event_os:0,sex:F") == "censored (no death); sex: Female"
    assert describe_drill("has:ki67") == "with a Ki-67 index"


def test_pages_show_dates_as_the_settings_say(client, clinician, site, settings):
    import datetime as dt

    from registry.templatetags.lutetia import dates, day

    assert day(dt.date(2005, 7, 1)) == "01/07/2005"  # en-GB, the default
    assert dates("Lab of 2005-07-01: no, 2005-13-01 is no date") == (
        "Lab of 01/07/2005: no, 2005-13-01 is no date"
    )
    patient = factories.PatientFactory(site=site, diagnosis_date=dt.date(2004, 3, 9))
    client.force_login(clinician)
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "09/03/2004" in page and "2004-03-09" not in page
    settings.DATE_FORMAT = "Y-m-d"
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "2004-03-09" in page
