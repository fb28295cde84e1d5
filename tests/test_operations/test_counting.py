"""How a request is counted: one observation of its duration, by route
and status, from which tutorial_requests_total is made when /metrics is
read; the largest session cookie, written when a larger one is set.

In one process, straight to the WSGI app, as waitress runs it; the
suites of test_metrics_and_probes.py read the same numbers through
production's workers.
"""
import collections

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families
from webtest import TestApp

from tutorial import main
from tutorial.operations.metrics import Largest, Metrics, exposition


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


def largest_cookie():
    return samples('tutorial_session_cookie_max_bytes')[()]


def cookie_size(response):
    cookie = response.headers['Set-Cookie']
    assert cookie.startswith('session=')
    return len(cookie.split(';')[0]) - len('session=')


def test_a_gauge_of_the_largest_only_goes_up():
    gauge = Gauge('largest_thing', 'The largest yet',
                  registry=CollectorRegistry())
    largest = Largest(gauge)
    for offered, kept in [(100, 100), (50, 100), (150, 150), (150, 150)]:
        largest.offer(offered)
        assert largest.value == gauge.collect()[0].samples[0].value == kept


def test_the_largest_session_cookie_is_kept(app):
    app.reset()
    started = samples('tutorial_sessions_started_total')
    page = app.get('/')
    assert cookie_size(page) > 100
    assert largest_cookie() >= cookie_size(page)
    # a session begun, once
    assert change(started, samples('tutorial_sessions_started_total')) \
        == {(): 1}
    app.get('/')
    assert change(started, samples('tutorial_sessions_started_total')) \
        == {(): 1}
    before = largest_cookie()
    # a reset: a smaller cookie (a message, no counter, no token yet)
    redirect = page.forms[0].submit(status=303)
    assert cookie_size(redirect) < cookie_size(page)
    assert largest_cookie() == before


def test_an_answer_without_a_session_cookie_changes_no_cookie_figure(app):
    app.reset()
    before = samples('tutorial_session_cookie_max_bytes')
    assert 'Set-Cookie' not in app.get('/static/tutorial.css').headers
    assert 'Set-Cookie' not in app.get('/nowhere', status=404).headers
    assert samples('tutorial_session_cookie_max_bytes') == before


def test_an_app_that_raises_is_counted_as_the_server_s_500():
    registry = main({}).registry

    def failing(environ, start_response):
        raise RuntimeError('nothing answered')
    metrics = Metrics(failing, registry)
    before = samples('tutorial_requests_total')
    with pytest.raises(RuntimeError):
        metrics({'PATH_INFO': '/', 'REQUEST_METHOD': 'GET'},
                lambda status, headers, exc_info=None: None)
    assert by_route_and_status(change(
        before, samples('tutorial_requests_total'))) == {('none', '500'): 1}
