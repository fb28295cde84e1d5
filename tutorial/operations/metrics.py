"""Beyond the step: what an operator watches, as Prometheus metrics.

GET /metrics answers in Prometheus's text format (prometheus_client):

- tutorial_request_duration_seconds, by route and status (a histogram),
  and tutorial_requests_total, by route and status: the histogram's
  counts, which are the number of requests each route answered with
  each status, made into a counter when /metrics is read, so that a
  request is counted once;
- tutorial_sessions_started_total, and tutorial_session_cookie_max_bytes,
  the largest session cookie set yet (a gauge, the largest of every
  worker's), which a browser drops past 4096 bytes;
- tutorial_session_store_operations_total (round trips to Redis) and
  tutorial_session_store_failures_total, by cause, the causes the log
  names;
- tutorial_unavailable_total, the 503s answered while sessions were
  unavailable;
- tutorial_redis_breaker_open, by node: 1 while a node's breaker holds
  requests off;
- the processes' own: memory, CPU, open files.

Under production's uWSGI workers, prometheus_client's multiprocess mode
adds up every worker's numbers: tutorial/server/runner.py makes the
folder it needs (PROMETHEUS_MULTIPROC_DIR) before any worker starts, and
removes it when pserve stops. Under waitress's one process, the numbers
are that process's. /metrics, /healthz and /readyz count as no request.
"""
import os
import threading
from time import perf_counter

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
    ProcessCollector,
    generate_latest,
    multiprocess,
    )
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from . import MULTIPROC_ENV
from ..config.middleware import add_middleware
from .probes import probes

METRICS_PATH = '/metrics'
#: Where the tween leaves the name of the route a request matched, and the
#: response Pyramid made, for the middleware, which counts the request
#: once it is answered: by then the response callbacks have set the
#: session's cookie on that response. No start_response is wrapped.
ANSWER_KEY = 'tutorial.operations.metrics.answer'
#: What the middleware finds when nothing in Pyramid answered.
NO_ANSWER = ('none', None)
#: The session cookie's name, as it starts a Set-Cookie header.
SESSION_COOKIE = 'session='

DURATION_NAME = 'tutorial_request_duration_seconds'
DURATION = Histogram(
    DURATION_NAME, 'Time to answer, by route and status',
    ['route', 'status'],
    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
REQUESTS_NAME = 'tutorial_requests'
REQUESTS_HELP = 'Requests answered, by route and status'
SESSIONS_STARTED = Counter('tutorial_sessions_started', 'Sessions begun: a '
                           'first visit, an expired or unreadable cookie, '
                           'a reset')
COOKIE_MAX = Gauge(
    'tutorial_session_cookie_max_bytes', 'The largest session cookie set '
    'yet (a browser keeps 4096 bytes at most)', multiprocess_mode='max')
STORE_OPERATIONS = Counter('tutorial_session_store_operations',
                           'Round trips to the session store', ['store'])
STORE_FAILURES = Counter('tutorial_session_store_failures',
                         'Session store failures, by cause',
                         ['store', 'cause'])
UNAVAILABLE = Counter('tutorial_unavailable', '503s answered while '
                      'sessions were unavailable')
BREAKER_OPEN = Gauge('tutorial_redis_breaker_open', '1 while the breaker of '
                     'a Redis node holds requests off', ['node'],
                     multiprocess_mode='livemax')


def cause_label(cause):
    """A cause as a label: its words before any details in brackets, so
    that a label's values stay few."""
    return cause.split(' (', 1)[0]


def worker_pids(folder):
    """The processes whose numbers are in ``folder``, by its file names."""
    pids = set()
    for name in os.listdir(folder):
        pid = name[:-len('.db')].rpartition('_')[2]
        if name.endswith('.db') and pid.isdigit():
            pids.add(int(pid))
    return pids


def is_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class WorkerProcesses:
    """The usual process metrics of every worker still running, each
    with its ``pid`` (in multiprocess mode prometheus_client gives only
    the answering process's)."""

    def __init__(self, folder):
        self.folder = folder

    def collect(self):
        families = {}
        for pid in sorted(worker_pids(self.folder)):
            if not is_running(pid):
                continue
            collector = ProcessCollector(pid=lambda pid=pid: pid,
                                         registry=None)
            for family in collector.collect():
                merged = families.setdefault(family.name, Metric(
                    family.name, family.documentation, family.type))
                for sample in family.samples:
                    merged.add_sample(sample.name, dict(
                        sample.labels, pid=str(pid)), sample.value)
        return list(families.values())


def exposition():
    """The metrics, as Prometheus reads them: every worker's added up in
    multiprocess mode, this process's otherwise."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return generate_latest(WithRequestCounts(REGISTRY))
    for pid in worker_pids(folder):
        if not is_running(pid):
            # a worker that died (and was replaced): its gauges go, its
            # counts stay in the sums
            multiprocess.mark_process_dead(pid, folder)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, folder)
    registry.register(WorkerProcesses(folder))
    return generate_latest(WithRequestCounts(registry))


class WithRequestCounts(Collector):
    """What ``registry`` collects, and tutorial_requests_total made from
    the duration histogram's counts."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        for family in self.registry.collect():
            yield family
            if family.name == DURATION_NAME:
                yield request_counts(family)


def request_counts(durations):
    """The number of requests by route and status, from a family of
    duration histograms by route and status."""
    requests = CounterMetricFamily(REQUESTS_NAME, REQUESTS_HELP,
                                   labels=('route', 'status'))
    for sample in durations.samples:
        if sample.name == DURATION_NAME + '_count':
            requests.add_metric(
                (sample.labels['route'], sample.labels['status']),
                sample.value)
    return requests


def scrape(environ, start_response):
    """The WSGI app that answers /metrics."""
    body = exposition()
    start_response('200 OK', [
        ('Content-Type', CONTENT_TYPE_LATEST),
        ('Content-Length', str(len(body))),
        ('Cache-Control', 'no-store')])
    return [body]


class Largest:
    """A gauge that only goes up: the largest value offered yet in this
    process (in multiprocess mode, the gauge's 'max' takes the largest of
    every worker's)."""

    def __init__(self, gauge):
        self.gauge = gauge
        self.value = 0
        self.lock = threading.Lock()

    def offer(self, value):
        with self.lock:
            if value > self.value:
                self.value = value
                self.gauge.set(value)


LARGEST_COOKIE = Largest(COOKIE_MAX)


def cookie_bytes(set_cookie):
    """The size of the value a Set-Cookie header sets."""
    end = set_cookie.find(';')
    if end < 0:
        end = len(set_cookie)
    return end - set_cookie.find('=') - 1


class Metrics:
    """WSGI middleware: answers /metrics and the probes (probes.py), and
    counts every other request as it is answered, whoever answered it
    (Pyramid, the request guard, the Redis store's 503).

    A request costs one observation, of its duration: the number of
    requests is that histogram's count, and the largest cookie is written
    only when a larger one is set.
    """

    def __init__(self, app, registry):
        self.app = app
        self.registry = registry
        #: the paths answered here, counted as no request
        self.answers = {METRICS_PATH: scrape, **probes(registry)}
        # each route and status's observe, once: labels() takes a lock
        self.observers = {}

    def __call__(self, environ, start_response):
        answer = self.answers.get(environ.get('PATH_INFO'))
        if answer is not None:
            return answer(environ, start_response)
        started = perf_counter()
        try:
            body = self.app(environ, start_response)
        except BaseException:
            # the server answers 500, whatever was made before
            route, response = environ.pop(ANSWER_KEY, NO_ANSWER)
            self.observe(route, '500', perf_counter() - started)
            raise
        route, response = environ.pop(ANSWER_KEY, NO_ANSWER)
        seconds = perf_counter() - started
        if response is None:
            self.observe(route, 'unknown', seconds)
            return body
        self.observe(route, response.status[:3], seconds)
        # from the end: the session sets its cookie last, in a response
        # callback, after every tween added its headers
        for name, value in reversed(response.headerlist):
            if name == 'Set-Cookie' and value.startswith(SESSION_COOKIE):
                size = cookie_bytes(value)
                if size > LARGEST_COOKIE.value:
                    LARGEST_COOKIE.offer(size)
                break
        return body

    def observe(self, route, status, seconds):
        key = (route, status)
        observe = self.observers.get(key)
        if observe is None:
            observe = self.observers.setdefault(
                key, DURATION.labels(route, status).observe)
        observe(seconds)


def answered(environ, response):
    """Say that ``response`` answers the request, in place of what Pyramid
    made (the Redis store's 503, tutorial/sessions/redis/unavailable.py)."""
    environ[ANSWER_KEY] = (environ.get(ANSWER_KEY, NO_ANSWER)[0], response)


def metrics_tween_factory(handler, registry):
    def metrics_tween(request):
        response = None
        try:
            response = handler(request)
            return response
        finally:
            route = request.matched_route
            request.environ[ANSWER_KEY] = (
                'none' if route is None else route.name, response)
            session = request.__dict__.get('session')
            if session is not None and session.new:
                SESSIONS_STARTED.inc()
    return metrics_tween


def includeme(config):
    config.add_tween('tutorial.operations.metrics.metrics_tween_factory')
    add_middleware(config, 'operations', Metrics)
