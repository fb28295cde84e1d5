"""`pserve production.ini` serves from a worker process per core.

uWSGI (tutorial/server/runner.py) starts the workers; each loads the app
from the ini file. Since sessions live in the cookie or in Redis, never in a
worker, any worker carries on any visitor's count; losing one loses
nothing, and the server replaces it.
"""
import functools
import os
import signal
import time

import pytest
from pyramid.registry import Registry

from tutorial.server.proxy_headers import ProxyHeaders, proxy_settings
from tutorial.server.master import APP_THREADS
from tutorial.server.runner import cores
from tutorial.sessions.secrets import SECRET_ENV

from tests.support.bad_input import BAD_FORMS, BAD_PATHS, BAD_QUERIES
from tests.support.processes import (
    descendants,
    uwsgi_option,
    workers,
    workers_of,
    )
from tests.support.servers import Server, run_pserve
from tests.support.visitors import Visitor, connection, raw_request, visit
from tests.support.wsgi import wsgi_request


SECRET = 'every-core-one-secret-0123456789-' * 2
ENV = {SECRET_ENV: SECRET}


def is_running(pid):
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does
    not)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


@pytest.fixture(scope='module')
def production():
    with Server('production.ini', env=dict(ENV, TUTORIAL_WORKERS='2')) \
            as server:
        workers_of(server, 2)
        yield server


def test_production_runs_a_worker_per_core():
    with Server('production.ini', env=ENV) as server:
        assert len(workers_of(server, cores())) == cores() >= 1


def test_a_worker_runs_the_app_threads_and_none_for_a_lock(production):
    # the cookie stores take no lock, so no thread waits for one
    assert uwsgi_option(production.process.pid, '--threads') \
        == str(APP_THREADS)


def test_the_worker_count_comes_from_the_environment_first():
    with Server('production.ini', env=dict(ENV, TUTORIAL_WORKERS='3')) \
            as server:
        assert len(workers_of(server, 3)) == 3


@pytest.mark.parametrize('value', ['0', 'many', '-2'])
def test_a_worker_count_that_cannot_work_is_refused_in_one_line(value):
    code, output = run_pserve('production.ini',
                              dict(ENV, TUTORIAL_WORKERS=value))
    assert code == 1, output
    assert output.strip().splitlines() == [
        "tutorial: workers (or TUTORIAL_WORKERS) is %r; it must be a whole "
        "number of 1 or more" % value]


@pytest.mark.parametrize('name, value, line', [
    ('TUTORIAL_LISTEN', '0.0.0.0', "tutorial: [server:main] listen (or "
     "TUTORIAL_LISTEN) is '0.0.0.0'; it must be HOST:PORT"),
    ('TUTORIAL_TRUSTED_PROXY', 'nginx', "tutorial: [server:main] "
     "trusted_proxy (or TUTORIAL_TRUSTED_PROXY) names 'nginx', which is "
     "not an IP address"),
])
def test_where_to_listen_and_whom_to_trust_come_from_the_environment_too(
        name, value, line):
    code, output = run_pserve('production.ini', dict(ENV, **{name: value}))
    assert code == 1, output
    assert output.strip().splitlines() == [line]


def test_the_environment_names_the_proxy_instead_of_the_ini_file():
    ini = {'trusted_proxy': '127.0.0.1',
           'trusted_proxy_headers': 'x-forwarded-for'}
    assert proxy_settings(ini, {})['trusted'] == ['127.0.0.1']
    assert proxy_settings(ini, {
        'TUTORIAL_TRUSTED_PROXY': '10.89.1.10 10.89.1.11'})['trusted'] \
        == ['10.89.1.10', '10.89.1.11']


def test_the_count_goes_on_whichever_worker_answers(production):
    cookie, counts = None, []
    for n in range(12):
        status, count, cookie = visit(production.port,
                                      '/howdy' if n % 2 else '/', cookie)
        assert status == 200
        counts.append(count)
    assert counts == list(range(1, 13))


def test_the_server_header_names_no_version_and_no_app_server(production):
    status, answer = raw_request(
        production.port, b'GET / HTTP/1.1\r\nHost: localhost\r\n'
        b'Connection: close\r\n\r\n')
    headers = answer.split(b'\r\n\r\n')[0].lower()
    assert status == 200
    # nginx names itself, and no version (server_tokens off)
    assert b'\r\nserver: nginx\r\n' in headers + b'\r\n'
    assert b'uwsgi' not in headers and b'waitress' not in headers
    assert b'\r\nx-frame-options: deny' in headers


# Bad input, through production's nginx this time: each named case
# of test_bad_requests.py over a socket, and what only a socket can send.

RAW_CASES = [
    b'GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n' % path.encode()
    for path in BAD_PATHS + BAD_QUERIES
] + [
    b'POST /reset HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\n'
    b'Content-Length: %d\r\n\r\n%s' % (content_type.encode(), len(body),
                                       body)
    for content_type, body in BAD_FORMS
] + [
    b'GET / HTTP/1.1\r\nHost: localhost\r\nCookie: a=\\377\r\n\r\n',
    b'GET /\xff HTTP/1.1\r\nHost: localhost\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n',
    b'GET / HTTP/1.1\r\n\r\n',
    b'GARBAGE\r\n\r\n',
    b'GET / HTTP/9.9\r\nHost: localhost\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: localhost\r\nX: ' + b'a' * 70000 + b'\r\n\r\n',
    b'POST /reset HTTP/1.1\r\nHost: localhost\r\n'
    b'Transfer-Encoding: chunked\r\n\r\nzz\r\n',
    b'POST /reset HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n'
    b'Content-Length: 6\r\n\r\nabcdef',
    b'POST /reset HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999\r\n'
    b'\r\n',
    b'GET / HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-Proto: gopher\r\n'
    b'\r\n',
    b'GET / HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: not-an-ip\r\n'
    b'\r\n',
]


@pytest.mark.parametrize('request_bytes', RAW_CASES,
                         ids=[str(n) for n in range(len(RAW_CASES))])
def test_bad_input_through_the_server_gets_an_answer_below_500(
        production, request_bytes):
    status, answer = raw_request(production.port, request_bytes)
    assert b'Traceback' not in answer
    # an answer below 500, or (a request not even HTTP) the door closed
    assert status is None or status < 500, answer[:300]
    if status is None:
        assert answer == b''
    # and the server is still there for the next visitor
    assert visit(production.port)[0] == 200


# Forwarded headers: believed from the proxy's address, from no one else.

def forwarded_app(trusted=('127.0.0.1',)):
    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [('%s %s %s' % (environ['wsgi.url_scheme'],
                               environ.get('HTTP_HOST'),
                               environ['REMOTE_ADDR'])).encode()]
    app.registry = Registry()
    app.registry.settings = {}
    return ProxyHeaders(app, trusted, ['x-forwarded-proto',
                                       'x-forwarded-host',
                                       'x-forwarded-for'])


def seen(app, remote, headers):
    environ = {'REMOTE_ADDR': remote}
    environ.update(('HTTP_' + name.upper().replace('-', '_'), value)
                   for name, value in headers.items())
    status, cookie, body = wsgi_request(
        lambda e, s: app(dict(e, **environ), s), 'GET', '/')
    return status, body.decode()


FORWARDED = {'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'site.example',
             'X-Forwarded-For': '198.51.100.7'}


@pytest.mark.parametrize('remote, headers, expected', [
    # the proxy is believed
    ('127.0.0.1', FORWARDED, 'https site.example 198.51.100.7'),
    # with one proxy, the address it added is the client's, whatever the
    # client put before it
    ('127.0.0.1', dict(FORWARDED, **{
        'X-Forwarded-For': '203.0.113.1, 198.51.100.7'}),
     'https site.example 198.51.100.7'),
    # anyone else is not, and its forwarded headers are dropped
    ('192.0.2.5', FORWARDED, 'http localhost 192.0.2.5'),
    ('192.0.2.5', {'Forwarded': 'for=1.2.3.4;host=evil.example'},
     'http localhost 192.0.2.5'),
])
def test_forwarded_headers_are_believed_from_the_proxy_alone(
        remote, headers, expected):
    status, body = seen(forwarded_app(), remote, headers)
    assert status == '200 OK'
    assert body == expected


@pytest.mark.parametrize('headers', [
    {'X-Forwarded-Proto': 'gopher'}, {'X-Forwarded-For': 'not-an-ip'},
    {'X-Forwarded-For': ''}, {'X-Forwarded-Host': ' '}])
def test_a_forwarded_header_that_cannot_be_read_gets_a_400(headers):
    status, body = seen(forwarded_app(), '127.0.0.1', headers)
    assert status.startswith('400')


# Workers' lives.

def test_a_killed_worker_is_replaced_and_visitors_go_on(production):
    status, count, cookie = visit(production.port)
    before = workers_of(production, 2)
    # the one request the killed worker held may be lost
    with Visitor(functools.partial(connection, production.port),
                 cookie) as visitor:
        time.sleep(0.5)
        os.kill(before[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:
            now = workers(production.process.pid)
            if len(now) == 2 and before[0] not in now:
                break
            assert time.monotonic() < deadline, 'not replaced in 10 s'
            time.sleep(0.1)
        replaced_in = 10 - (deadline - time.monotonic())
        served = len(visitor.counts)
        while len(visitor.counts) < served + 20:
            time.sleep(0.05)
    print('\n  worker replaced in %.1f s; %d pages, %s lost connections'
          % (replaced_in, len(visitor.counts), visitor.lost()))
    assert all(s == 200 or s == 'connection lost' for s in visitor.statuses)
    assert visitor.lost() <= 2
    # the count went on, one a page, with no step back
    assert visitor.counts == list(range(2, 2 + len(visitor.counts)))


def test_sighup_restarts_the_workers_one_at_a_time_and_pages_go_on():
    """uWSGI's chain reload: one worker at a time finishes what it holds
    and is replaced, and the next goes only once its replacement serves,
    so some worker always serves. The workers share one listening socket:
    a connection waits there for whichever takes it. A connection the
    stopping worker held open but idle is closed; a visitor who asks for
    one page at a time may meet that at most twice per worker stopped."""
    with Server('production.ini', env=dict(ENV, TUTORIAL_WORKERS='2')) \
            as server:
        before = set(workers_of(server, 2))
        status, count, cookie = visit(server.port)
        with Visitor(functools.partial(connection, server.port),
                     cookie) as visitor:
            os.kill(server.process.pid, signal.SIGHUP)
            deadline = time.monotonic() + 30
            while True:
                now = workers(server.process.pid)
                # never both workers gone at once
                assert now, 'no worker left'
                if len(now) == 2 and before.isdisjoint(now):
                    break
                assert time.monotonic() < deadline, 'workers not restarted'
                time.sleep(0.02)
            served = len(visitor.counts)
            while len(visitor.counts) < served + 20:
                assert visitor.is_alive()
                time.sleep(0.05)
    print('\n  SIGHUP: %d pages served through the restart, %d connections'
          ' lost' % (len(visitor.counts), visitor.lost()))
    assert all(s == 200 or s == 'connection lost' for s in visitor.statuses)
    assert visitor.lost() <= 2 * len(before)
    # the count went on, one a page, with no step back
    assert visitor.counts == list(range(2, 2 + len(visitor.counts)))


def test_sighup_replaces_a_worker_still_loading_the_app_too():
    """A chain reload passes over a worker still loading the app (here
    one just put in place of a worker killed); the runner asks again once
    that chain ends, until every worker that ran at the SIGHUP has been
    replaced."""
    with Server('production.ini', env=dict(ENV, TUTORIAL_WORKERS='2')) \
            as server:
        killed = workers_of(server, 2)[0]
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            at_sighup = set(workers(server.process.pid))
            if len(at_sighup) == 2 and killed not in at_sighup:
                break
            assert time.monotonic() < deadline, 'not replaced in 30 s'
            time.sleep(0.01)
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while True:
            now = set(workers(server.process.pid))
            if len(now) == 2 and at_sighup.isdisjoint(now):
                break
            assert time.monotonic() < deadline, \
                'still there: %s' % (at_sighup & now)
            time.sleep(0.05)
        assert visit(server.port)[0] == 200


def test_sigterm_stops_every_process_within_15_s():
    with Server('production.ini', env=dict(ENV, TUTORIAL_WORKERS='2')) \
            as server:
        workers_of(server, 2)
        # every process it started: the workers, and any helper
        started_processes = descendants(server.process.pid)
        assert visit(server.port)[0] == 200
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(15)
        deadline = started + 15
        while any(is_running(pid) for pid in started_processes):
            assert time.monotonic() < deadline, 'a process left behind'
            time.sleep(0.05)
        took = time.monotonic() - started
        print('\n  SIGTERM: every process gone in %.1f s' % took)
