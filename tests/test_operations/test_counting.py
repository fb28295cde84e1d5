"""How a request is counted: one observation of its duration, by route
and status, from which tutorial_requests_total is made when /metrics is
read; one of its session cookie's size, when it sets one.

In one process, straight to the WSGI app, as waitress runs it; the
suites of test_metrics_and_probes.py read the same numbers through
production's workers.
"""
import collections

import pytest
from prometheus_client.parser import text_string_to_metric_families
from webtest import TestApp

from tutorial import main
from tutorial.operations.metrics import exposition


def samples(name):
    """``name``'s samples in /metrics, by their labels (sorted pairs)."""
    found = collections.Counter()
    for family in text_string_to_metric_families(exposition().decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] += sample.value
    return found


def change(before, after):
    return {labels: value - before[labels]
            for labels, value in after.items() if value != before[labels]}


def by_route_and_status(counts):
    return {(dict(labels)['route'], dict(labels)['status']): value
            for labels, value in counts.items()}


@pytest.fixture(scope='module')
def app():
    return TestApp(main({}))


def test_each_request_is_counted_once_by_route_and_status(app):
    requests = samples('tutorial_requests_total')
    durations = samples('tutorial_request_duration_seconds_count')
    app.get('/')
    app.get('/')
    app.get('/howdy')
    app.get('/nowhere', status=404)
    app.get('/healthz')
    app.get('/metrics')
    counted = by_route_and_status(change(requests,
                                         samples('tutorial_requests_total')))
    assert counted == {('home', '200'): 2, ('hello', '200'): 1,
                       ('none', '404'): 1}
    # the counter is the histogram's count, route by route
    assert by_route_and_status(change(
        durations, samples('tutorial_request_duration_seconds_count'))) \
        == counted


def test_the_requests_counter_is_a_counter_with_its_help(app):
    app.get('/')
    families = {family.name: family for family in
                text_string_to_metric_families(exposition().decode())}
    requests = families['tutorial_requests']
    assert requests.type == 'counter'
    assert requests.documentation == 'Requests answered, by route and status'
    assert families['tutorial_request_duration_seconds'].type == 'histogram'


def test_the_session_cookie_s_size_is_observed_as_it_is_set(app):
    app.reset()
    before_sum = samples('tutorial_session_cookie_bytes_sum')
    before_count = samples('tutorial_session_cookie_bytes_count')
    started = samples('tutorial_sessions_started_total')
    response = app.get('/')
    cookie = response.headers['Set-Cookie']
    value = cookie.split(';')[0][len('session='):]
    assert cookie.startswith('session=') and len(value) > 100
    assert change(before_count,
                  samples('tutorial_session_cookie_bytes_count')) \
        == {(): 1}
    assert change(before_sum, samples('tutorial_session_cookie_bytes_sum')) \
        == {(): len(value)}
    assert change(started, samples('tutorial_sessions_started_total')) \
        == {(): 1}
    # the same visitor again: a cookie set, no session begun
    app.get('/')
    assert change(before_count,
                  samples('tutorial_session_cookie_bytes_count')) \
        == {(): 2}
    assert change(started, samples('tutorial_sessions_started_total')) \
        == {(): 1}


def test_an_answer_without_a_session_cookie_is_not_observed(app):
    before = samples('tutorial_session_cookie_bytes_count')
    app.get('/static/tutorial.css')
    app.get('/nowhere', status=404)
    assert samples('tutorial_session_cookie_bytes_count') == before
