"""The garbage collector is paused while a cohort answer is computed, and only then."""

import gc
import threading

import pytest

from registry.collector import collection_paused
from registry.research import memo


@pytest.fixture(autouse=True)
def collector_running():
    gc.enable()
    yield
    gc.enable()


def test_a_pause_stops_the_collector_and_resumes_it():
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_pauses_nest_and_resume_after_the_last():
    with collection_paused():
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_an_error_in_the_computation_still_resumes_it():
    with pytest.raises(KeyError), collection_paused():
        raise KeyError("the computation failed")
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_resume_after_both():
    first_in, second_done = threading.Event(), threading.Event()
    seen = []

    def first():
        with collection_paused():
            first_in.set()
            assert second_done.wait(10)
            seen.append(gc.isenabled())  # the other thread's pause ended: still paused

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with collection_paused():
        pass
    second_done.set()
    thread.join()
    assert seen == [False] and gc.isenabled()


@pytest.mark.django_db
def test_memoised_computes_with_the_collector_paused(rf, admin_user, settings):
    settings.LUTETIA_RESULT_CACHE_SECONDS = 600
    request = rf.get("/research/")
    request.user = admin_user
    assert memo.memoised(request, "test", gc.isenabled) is False
    assert gc.isenabled()
