"""Beyond the step: what an operator watches, as Prometheus metrics.

GET /metrics answers in Prometheus's text format (prometheus_client):

- tutorial_requests_total, by route and status, and
  tutorial_request_duration_seconds, by route (a histogram);
- tutorial_sessions_started_total, and tutorial_session_cookie_bytes (a
  histogram of the session cookies set);
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
import time

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

from . import MULTIPROC_ENV
from ..config.middleware import add_middleware

METRICS_PATH = '/metrics'
#: Where the tween leaves the route's name and whether a session began,
#: for the middleware, which counts after Pyramid is done.
ROUTE_KEY = 'tutorial.operations.metrics.route'
NEW_SESSION_KEY = 'tutorial.operations.metrics.new_session'

REQUESTS = Counter('tutorial_requests', 'Requests answered, by route and '
                   'status', ['route', 'status'])
DURATION = Histogram(
    'tutorial_request_duration_seconds', 'Time to answer, by route',
    ['route'], buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1,
                        2.5, 5))
SESSIONS_STARTED = Counter('tutorial_sessions_started', 'Sessions begun: a '
                           'first visit, an expired or unreadable cookie, '
                           'a reset')
COOKIE_BYTES = Histogram(
    'tutorial_session_cookie_bytes', 'Size of each session cookie set',
    buckets=(64, 128, 256, 512, 1024, 2048, 4096))
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
        return generate_latest(REGISTRY)
    for pid in worker_pids(folder):
        if not is_running(pid):
            # a worker that died (and was replaced): its gauges go, its
            # counts stay in the sums
            multiprocess.mark_process_dead(pid, folder)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, folder)
    registry.register(WorkerProcesses(folder))
    return generate_latest(registry)


class Metrics:
    """WSGI middleware: serves /metrics, and counts every other request
    as it is answered, whoever answered it (Pyramid, the request guard,
    the Redis store's 503)."""

    def __init__(self, app, registry):
        self.app = app
        self.registry = registry
        # each label's child, once: labels() takes a lock on every call
        self.requests = {}
        self.durations = {}

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO') == METRICS_PATH:
            body = exposition()
            start_response('200 OK', [
                ('Content-Type', CONTENT_TYPE_LATEST),
                ('Content-Length', str(len(body))),
                ('Cache-Control', 'no-store')])
            return [body]
        started = time.perf_counter()
        answer = []

        def counting_start_response(status, headers, exc_info=None):
            answer.append(status[:3])
            for name, value in headers:
                if name == 'Set-Cookie' and value.startswith('session='):
                    COOKIE_BYTES.observe(value.find(';') - 8)
            return start_response(status, headers, exc_info)
        try:
            return self.app(environ, counting_start_response)
        finally:
            self.count(environ.get(ROUTE_KEY, 'none'),
                       answer[-1] if answer else '500',
                       time.perf_counter() - started)
            if NEW_SESSION_KEY in environ:
                SESSIONS_STARTED.inc()

    def count(self, route, status, seconds):
        requests = self.requests.get((route, status))
        if requests is None:
            requests = self.requests.setdefault(
                (route, status), REQUESTS.labels(route, status))
        requests.inc()
        duration = self.durations.get(route)
        if duration is None:
            duration = self.durations.setdefault(route,
                                                 DURATION.labels(route))
        duration.observe(seconds)


def metrics_tween_factory(handler, registry):
    def metrics_tween(request):
        try:
            return handler(request)
        finally:
            route = request.matched_route
            environ = request.environ
            environ[ROUTE_KEY] = route.name if route is not None \
                else 'none'
            session = request.__dict__.get('session')
            if session is not None and getattr(session, 'new', False):
                environ[NEW_SESSION_KEY] = True
    return metrics_tween


def includeme(config):
    config.add_tween('tutorial.operations.metrics.metrics_tween_factory')
    add_middleware(config, 'metrics', Metrics)
