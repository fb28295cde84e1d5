"""What an operator watches: /healthz, /readyz and /metrics.

Liveness answers whatever happens to the session store; readiness follows
it; the metrics add up every worker's numbers. None of the three counts
as a visit, touches a session, or writes a line to the log.
"""
import os
import re
import subprocess
import sys
import time

import pytest

from tutorial.operations import MULTIPROC_ENV
from tutorial.operations.check import check, default_url
from tutorial.operations.metrics import cause_label
from tutorial.sessions.secrets import SECRET_ENV
from tutorial.sessions.stores import STORE_ENV

from tests.support.processes import free_port, workers, workers_of
from tests.support.redis_servers import RedisServer
from tests.support.servers import Server
from tests.support.visitors import raw_request, visit


SECRET = 'operator-watches-secret-0123456789-' * 2
PASSWORD = 'redis-password-Vb7wQ2'


def probe(server, path, method='GET', host=None):
    """One probe over a socket of its own, as a load balancer sends it:
    the status, the headers (lower-cased names) and the body."""
    status, answer = raw_request(server.port, (
        '%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n'
        % (method, path, host or '127.0.0.1:%d' % server.port)).encode())
    head, _, body = answer.partition(b'\r\n\r\n')
    headers = {}
    for line in head.decode('latin-1').split('\r\n')[1:]:
        name, _, value = line.partition(':')
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


@pytest.fixture(scope='module')
def production():
    with Server('production.ini', env={SECRET_ENV: SECRET,
                                       'TUTORIAL_WORKERS': '2'}) as server:
        workers_of(server, 2)
        yield server


# /healthz

@pytest.mark.parametrize('host', [None, '10.11.12.13:6543', 'evil.example'])
def test_healthz_answers_whatever_the_host_without_a_cookie(production,
                                                            host):
    status, headers, body = probe(production, '/healthz', host=host)
    assert status == 200 and body == b'ok\n'
    assert 'set-cookie' not in headers
    assert headers['cache-control'] == 'no-store'
    # the security headers, as on every answer
    assert headers['x-frame-options'] == 'DENY'
    assert headers['x-content-type-options'] == 'nosniff'
    assert 'content-security-policy' in headers


def test_healthz_takes_head_and_refuses_other_methods(production):
    status, headers, body = probe(production, '/healthz', 'HEAD')
    assert status == 200 and body == b''
    status, headers, body = probe(production, '/healthz', 'POST')
    assert status == 405 and headers['allow'] == 'GET, HEAD'


def test_the_cookie_stores_are_always_ready(production):
    status, headers, body = probe(production, '/readyz',
                                  host='10.11.12.13')
    assert status == 200 and body == b'ready\n'
    assert 'set-cookie' not in headers
    assert headers['cache-control'] == 'no-store'


# /metrics

def test_the_check_command_exits_by_the_probe_s_answer(production):
    """What a container's health check runs: one line, and 0 for a 200."""
    def check(url):
        done = subprocess.run(
            [sys.executable, '-m', 'tutorial.operations.check', url],
            capture_output=True, text=True, timeout=30)
        assert done.stderr == ''
        assert done.stdout.count('\n') == 1
        return done.returncode, done.stdout.strip()

    base = 'http://127.0.0.1:%d' % production.port
    assert check(base + '/healthz') == (0, base + '/healthz: 200 ok')
    assert check(base + '/readyz')[0] == 0
    assert check(base + '/nowhere') == (1, base + '/nowhere: 404 Not Found')
    nobody = 'http://127.0.0.1:%d/healthz' % free_port()
    status, line = check(nobody)
    assert status == 1
    assert line.startswith(nobody + ': no answer (') and 'refused' in line


def metric(text, name, **labels):
    """The sum of ``name``'s samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        if not match or match.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ''))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


def scrape(server):
    status, headers, body = probe(server, '/metrics')
    assert status == 200
    assert headers['content-type'].startswith('text/plain')
    return body.decode()


def test_metrics_count_every_request_across_the_workers(production):
    before = scrape(production)
    cookie = None
    for n in range(200):
        status, count, cookie = visit(production.port,
                                      '/howdy' if n % 2 else '/', cookie)
        assert status == 200
    probe(production, '/healthz')
    probe(production, '/readyz')
    after = scrape(production)
    # exactly 200: the probes and the scrapes count as no request
    assert metric(after, 'tutorial_requests_total') \
        - metric(before, 'tutorial_requests_total') == 200
    assert metric(after, 'tutorial_requests_total', route='hello',
                  status='200') \
        - metric(before, 'tutorial_requests_total', route='hello',
                 status='200') == 100
    assert metric(after, 'tutorial_request_duration_seconds_count') \
        - metric(before, 'tutorial_request_duration_seconds_count') == 200
    assert metric(after, 'tutorial_sessions_started_total') \
        - metric(before, 'tutorial_sessions_started_total') == 1
    # the largest cookie: as long as the one the last visit was given
    assert metric(after, 'tutorial_session_cookie_max_bytes') \
        >= len(cookie.split('=', 1)[1]) > 100
    # the usual process metrics, for each worker
    for pid in workers(production.process.pid):
        assert metric(after, 'process_resident_memory_bytes',
                      pid=str(pid)) > 0
    # both workers served: each has its own numbers in the sum
    assert 'session' in after


def test_a_404_and_a_400_are_counted_by_their_status(production):
    before = scrape(production)
    raw_request(production.port, b'GET /nowhere HTTP/1.1\r\nHost: '
                b'localhost\r\nConnection: close\r\n\r\n')
    raw_request(production.port, b'GET / HTTP/1.1\r\nHost: evil.example'
                b'\r\nConnection: close\r\n\r\n')
    after = scrape(production)
    for status in ('404', '400'):
        assert metric(after, 'tutorial_requests_total', status=status) \
            - metric(before, 'tutorial_requests_total', status=status) == 1


def metrics_folders(pid):
    """The metrics folders whose files ``pid`` holds open."""
    folders = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if '/tutorial-metrics-' in target:
            folders.add(os.path.dirname(target))
    return folders


def test_the_metrics_folder_is_made_and_removed_by_the_server():
    # the operator names no folder: the server makes one, shared by its
    # workers, and removes it when it stops
    with Server('production.ini', env={SECRET_ENV: SECRET,
                                       'TUTORIAL_WORKERS': '2'}) as server:
        assert MULTIPROC_ENV not in server.env
        for _ in range(4):
            assert visit(server.port)[0] == 200
        folders = set()
        for pid in workers_of(server, 2):
            folders |= metrics_folders(pid)
        assert len(folders) == 1
        folder = folders.pop()
        assert os.path.isdir(folder)
    assert not os.path.exists(folder)


@pytest.mark.parametrize('cause, label', [
    ('connection refused', 'connection refused'),
    ('authentication failed (WRONGPASS invalid username-password pair)',
     'authentication failed'),
    ('Redis did not answer within 1 s', 'Redis did not answer within 1 s'),
])
def test_a_cause_is_a_label_without_its_details(cause, label):
    assert cause_label(cause) == label


# Redis: ready while it answers, not while it is down; alive throughout.

def wait_for(condition, limit):
    """Seconds until ``condition()`` holds; fails after ``limit``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < limit, 'not within %s s' % limit
        time.sleep(0.05)
    return time.monotonic() - started


def test_readiness_follows_redis_and_liveness_stays(capsys):
    redis = RedisServer(password=PASSWORD).start()
    try:
        env = {SECRET_ENV: SECRET, STORE_ENV: 'redis',
               'TUTORIAL_WORKERS': '2',
               'TUTORIAL_REDIS_URL': redis.url_as('app', PASSWORD)}
        with Server('production.ini', env=env) as server:
            workers_of(server, 2)
            client = redis.client()
            try:
                assert probe(server, '/readyz')[0] == 200
                status, count, cookie = visit(server.port)
                assert status == 200 and count == 1
                keys = set(client.keys('*'))
                for _ in range(10):
                    probe(server, '/readyz')
                    probe(server, '/healthz')
                # probes touch no session
                assert set(client.keys('*')) == keys
            finally:
                client.close()
            redis.stop()
            down = wait_for(lambda: probe(server, '/readyz')[0] == 503, 3)
            status, headers, body = probe(server, '/readyz')
            assert status == 503
            assert b'connection refused' in body
            assert PASSWORD.encode() not in body
            # what a container's health check would say of it
            status, line = check('http://127.0.0.1:%d/readyz' % server.port)
            assert status == 1 and line.endswith(
                ': 503 ' + ' '.join(body.decode().split()))
            lines = server.output().count('\n')
            for _ in range(20):
                assert probe(server, '/healthz')[0] == 200
                assert probe(server, '/readyz')[0] == 503
            # no log line per probe
            assert server.output().count('\n') - lines <= 2
            redis.start()
            back = wait_for(lambda: probe(server, '/readyz')[0] == 200, 5)
            assert probe(server, '/healthz')[0] == 200
            # pages again (this redis-server keeps nothing on disk, so
            # the visitor starts again). Readiness came from one worker;
            # the other's breaker, opened by its last failure, lets a
            # command through again only after its pause (REDIS_PAUSE),
            # so its pages come back that much later, not at once
            wait_for(lambda: visit(server.port, cookie=cookie)[0] == 200,
                     5)
            text = scrape(server)
            assert metric(text, 'tutorial_session_store_operations_total',
                          store='redis') > 0
            assert PASSWORD not in server.output()
        with capsys.disabled():
            print('\n  /readyz: 503 %.2f s after Redis stopped, 200 %.2f s '
                  'after it came back' % (down, back))
    finally:
        redis.remove()


def test_failures_and_503s_are_counted_by_cause():
    redis = RedisServer().start()
    try:
        env = {SECRET_ENV: SECRET, STORE_ENV: 'redis',
               'TUTORIAL_WORKERS': '1', 'TUTORIAL_REDIS_URL': redis.url}
        with Server('production.ini', env=env) as server:
            workers_of(server, 1)
            assert visit(server.port)[0] == 200
            redis.stop()
            statuses = [visit(server.port)[0] for _ in range(5)]
            assert statuses == [503] * 5
            text = scrape(server)
            assert metric(text, 'tutorial_unavailable_total') == 5
            assert metric(text, 'tutorial_session_store_failures_total',
                          store='redis', cause='connection refused') == 5
            assert metric(text, 'tutorial_requests_total',
                          status='503') == 5
            assert metric(text, 'tutorial_redis_breaker_open') == 1
    finally:
        redis.remove()


def test_the_check_command_asks_the_port_the_server_listens_on():
    # the image's health check names no URL: a TUTORIAL_LISTEN of another
    # port moves the check with the server
    assert default_url({}) == 'http://127.0.0.1:6543/healthz'
    assert default_url({'TUTORIAL_LISTEN': '0.0.0.0:8000'}) \
        == 'http://127.0.0.1:8000/healthz'
    assert default_url({'TUTORIAL_LISTEN': '[::]:8001'}) \
        == 'http://[::1]:8001/healthz'
    assert default_url({'TUTORIAL_LISTEN': ' '}) \
        == 'http://127.0.0.1:6543/healthz'
