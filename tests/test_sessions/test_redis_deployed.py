"""Redis as people run it: TLS, unix sockets, ACL users, production.

Every redis-server here is real, started by the test on a free port or a
socket of its own, with certificates made for this run. The app reaches
each through the URL alone, as an operator would write it; a URL that
cannot work stops pserve with one line, a Redis that is only away gets a
503 that says why, and no password is ever shown.
"""
import logging
import signal

import pytest
from redis.exceptions import (
    AuthenticationError,
    ConnectionError as RedisConnectionError,
    ReadOnlyError,
    ResponseError,
    TimeoutError as RedisTimeoutError,
    )
from redis.sentinel import MasterNotFoundError

from tutorial.operations.log_summary import LogSummary
from tutorial.sessions.redis.causes import cause_of
from tutorial.sessions.redis.redaction import masked, scrubbed
from tutorial.sessions.redis.unavailable import FailureLog
from tutorial.sessions.secrets import SECRET_ENV
from tutorial.sessions.stores import STORE_ENV

from tests.support.cookies import count_on
from tests.support.processes import free_port
from tests.support.redis_servers import RedisServer
from tests.support.servers import Server, run_pserve, served_again
from tests.support.visitors import visit_concurrently


PASSWORD = 'app-password-Zq8wX3'
WRONG_PASSWORD = 'not-the-password-Kd2'
SECRET = 'redis-deployed-secret-0123456789-' * 2


def app_env(ini, url):
    """What pserve needs to serve ``ini`` with sessions in ``url``."""
    env = {'TUTORIAL_REDIS_URL': url}
    if ini == 'production.ini':
        env.update({SECRET_ENV: SECRET, STORE_ENV: 'redis'})
    return env


def redis_server(kind, certificates):
    """A redis-server set up as ``kind`` says (not started)."""
    return RedisServer(
        tls=certificates if kind in ('tls', 'client certificates') else None,
        client_certificates=kind == 'client certificates',
        unix_socket=kind == 'unix socket',
        password=PASSWORD if kind == 'acl user' else None)


def journey(server, paths=('/', '/howdy', '/')):
    """A visitor's pages in turn; the counts shown, and their cookie."""
    counts, cookie = [], None
    for path in paths:
        status, headers, body = server.get(path, cookie=cookie)
        assert status == 200, body[:300]
        counts.append(count_on(body.decode()))
        cookie = cookie or headers['Set-Cookie'].split(';')[0]
    return counts, cookie


@pytest.mark.parametrize('kind, ini', [
    ('tls', 'redis.ini'),
    ('tls', 'production.ini'),
    ('client certificates', 'production.ini'),
    ('unix socket', 'redis.ini'),
    ('unix socket', 'production.ini'),
    ('acl user', 'redis.ini'),
    ('acl user', 'production.ini'),
])
def test_the_journey_counts_with_the_data_in_that_redis(kind, ini,
                                                        certificates):
    with redis_server(kind, certificates) as redis, \
            Server(ini, env=app_env(ini, redis.admin_url)) as app:
        counts, cookie = journey(app)
        assert counts == [1, 2, 3]
        client = redis.client()
        try:
            (key,) = client.keys('*')
            assert b'"counter":3' in client.get(key)
        finally:
            client.close()
        if ini == 'production.ini':
            status, headers, body = app.get('/', cookie=cookie)
            assert 'Strict-Transport-Security' in headers
    assert PASSWORD not in app.output()


# A URL that cannot work: one line, exit status 1, no password.

MISCONFIGURATIONS = [
    ('wrong password', 'acl user',
     lambda redis, other: redis.url_as('app', WRONG_PASSWORD),
     'Redis refused its user name or password'),
    ('wrong user', 'acl user',
     lambda redis, other: redis.url_as('nobody', PASSWORD),
     'Redis refused its user name or password'),
    ('no password', 'acl user',
     lambda redis, other: redis.url,
     'Redis refused its user name or password'),
    ('certificate of another authority', 'tls',
     lambda redis, other: redis.url.replace(
         redis.tls['ca'], other['ca']),
     "the server's TLS certificate does not verify"),
    ('no authority named', 'tls',
     lambda redis, other: redis.url.split('?')[0],
     "the server's TLS certificate does not verify"),
    ('TLS to a plain port', 'plain',
     lambda redis, other: redis.url.replace('redis://', 'rediss://'),
     'it speaks TLS (rediss://) to a port that speaks plain Redis'),
    ('plain to a TLS port', 'tls',
     lambda redis, other: redis.url.split('?')[0].replace('rediss://',
                                                          'redis://'),
     'it speaks plain Redis (redis://) to a port that speaks TLS'),
    ('TLS options on a plain URL', 'tls',
     lambda redis, other: redis.url.replace('rediss://', 'redis://'),
     'ssl_* options need a rediss:// URL'),
    ('no client certificate', 'client certificates',
     lambda redis, other: redis.url.split('&')[0],
     'may want a client certificate (ssl_certfile and ssl_keyfile)'),
    ('not a Redis URL', None,
     lambda redis, other: 'http://app:%s@127.0.0.1/0' % PASSWORD,
     'redis-py cannot read it'),
    ('a port that is not a number', None,
     lambda redis, other: 'redis://app:%s@127.0.0.1:port/0' % PASSWORD,
     'redis-py cannot read it'),
    ('an option redis-py refuses', 'tls',
     lambda redis, other: redis.url + '&ssl_cert_reqs=sometimes',
     'redis-py cannot use it'),
]


@pytest.mark.parametrize('kind, make_url, problem',
                         [case[1:] for case in MISCONFIGURATIONS],
                         ids=[case[0] for case in MISCONFIGURATIONS])
def test_a_url_that_cannot_work_stops_pserve_with_one_line(
        kind, make_url, problem, certificates, other_certificates):
    redis = redis_server(kind, certificates).start() if kind else None
    try:
        url = make_url(redis, other_certificates)
        code, output = run_pserve('production.ini',
                                  app_env('production.ini', url))
    finally:
        if redis:
            redis.remove()
    assert code == 1, output
    (line,) = output.strip().splitlines()
    assert line.startswith('tutorial: TUTORIAL_REDIS_URL is ')
    assert problem in line
    assert PASSWORD not in output and WRONG_PASSWORD not in output


# Redis away while the app runs: a 503 that says why, then pages again.

def test_redis_down_at_start_gets_a_warning_then_pages_when_it_starts():
    port = free_port()
    url = 'redis://127.0.0.1:%d/0' % port
    with Server('production.ini', env=app_env('production.ini', url)) as app:
        status, headers, body = app.get('/')
        assert status == 503
        with RedisServer(port=port):
            body = served_again(app, None)
            assert count_on(body.decode()) == 1
        log = app.output()
    warning = [line for line in log.splitlines() if 'WARN' in line]
    assert 'is not answering yet (connection refused)' in warning[0]
    assert any('sessions unavailable: Redis at %s: connection refused'
               % url in line for line in warning[1:])


def test_a_password_changed_on_the_server_gives_503_until_it_is_back():
    with RedisServer(password=PASSWORD) as redis, \
            Server('redis.ini',
                   env=app_env('redis.ini', redis.admin_url)) as app:
        counts, cookie = journey(app, ['/'])
        admin = redis.client()
        try:
            admin.acl_setuser('app', enabled=True, reset_passwords=True,
                              passwords=['+' + WRONG_PASSWORD])
            admin.client_kill_filter(_type='normal', skipme=True)
            status, headers, body = app.get('/', cookie=cookie)
            assert status == 503
            assert PASSWORD.encode() not in body
            assert all(PASSWORD not in value for value in headers.values())
            # set back: the app reconnects with no restart
            admin.acl_setuser('app', enabled=True, reset_passwords=True,
                              passwords=['+' + PASSWORD])
        finally:
            admin.close()
        body = served_again(app, cookie)
        assert count_on(body.decode()) == 2
        log = app.output()
    assert 'authentication failed' in log
    assert PASSWORD not in log and WRONG_PASSWORD not in log


def test_a_tls_error_while_running_is_named(certificates,
                                            other_certificates):
    redis = RedisServer(tls=certificates).start()
    try:
        with Server('redis.ini', env=app_env('redis.ini', redis.url)) as app:
            journey(app, ['/'])
            redis.remove()
            # the same port, now with a certificate the app does not trust
            redis = RedisServer(tls=other_certificates,
                                port=redis.port).start()
            status, headers, body = app.get('/')
            assert status == 503
            log = app.output()
    finally:
        redis.remove()
    assert 'sessions unavailable' in log
    assert 'TLS: the server certificate did not verify' in log


@pytest.mark.parametrize('kind', ['tls', 'unix socket'])
def test_redis_that_hangs_gets_a_quick_503_over_each_kind(capsys, kind,
                                                          certificates):
    hanging = redis_server(kind, certificates).start()
    try:
        with Server('redis.ini',
                    env=app_env('redis.ini', hanging.url)) as app:
            counts, cookie = journey(app, ['/'])
            hanging.process.send_signal(signal.SIGSTOP)
            statuses, longest = visit_concurrently(app, 16, 4)
            assert set(statuses) == {503}, set(statuses)
            hanging.process.send_signal(signal.SIGCONT)
            body = served_again(app, cookie)
            assert count_on(body.decode()) == 2
            log = app.output().splitlines()
    finally:
        hanging.process.send_signal(signal.SIGCONT)
        hanging.remove()
    unavailable = [line for line in log if 'sessions unavailable' in line]
    # named for what happened, and summed up rather than one a request
    assert any('Redis did not answer within 1 s' in line
               for line in unavailable)
    assert len(unavailable) < len(statuses) / 20
    with capsys.disabled():
        print('\n  Redis (%s) hanging, 16 visitors: %d answers, the '
              'longest %.2f s, %d log lines' % (kind, len(statuses),
                                                longest, len(unavailable)))


# What is logged.

@pytest.mark.parametrize('url, shown', [
    ('redis://127.0.0.1:6379/0', 'redis://127.0.0.1:6379/0'),
    ('redis://app:%s@host:6379/0' % PASSWORD, 'redis://app:***@host:6379/0'),
    ('rediss://app:%s@host:6380/0?ssl_ca_certs=/etc/ca.pem' % PASSWORD,
     'rediss://app:***@host:6380/0?ssl_ca_certs=/etc/ca.pem'),
    ('redis://:%s@host/0' % PASSWORD, 'redis://:***@host/0'),
    ('unix://app:%s@/run/redis.sock?db=2' % PASSWORD,
     'unix://app:***@/run/redis.sock?db=2'),
    ('redis://host/0?password=%s' % PASSWORD, 'redis://host/0?password=***'),
])
def test_a_logged_url_shows_no_password(url, shown):
    assert masked(url) == shown


def test_a_message_that_quotes_the_password_is_scrubbed():
    url = 'redis://app:%s@host:port/0' % PASSWORD
    assert scrubbed('cannot read %r' % url, url) \
        == "cannot read 'redis://app:***@host:port/0'"
    assert scrubbed('pass word', 'redis://app:pass%20word@h/0') == '***'


def test_failures_under_load_are_summed_up_by_cause(caplog):
    clock = [100.0]
    failures = FailureLog('redis://host:6379/0', interval=10,
                          summary=LogSummary(10, clock=lambda: clock[0]))
    refused = ConnectionRefusedError(111, 'Connection refused')
    with caplog.at_level(logging.WARNING, 'tutorial.sessions.redis'):
        for _ in range(1000):
            failures.failed(refused)
        failures.failed(TimeoutError('timed out'))
        clock[0] += 10  # the interval is over
        failures.failed(refused)
    assert [record.getMessage() for record in caplog.records] == [
        'sessions unavailable: Redis at redis://host:6379/0: connection '
        'refused',
        'sessions unavailable: Redis at redis://host:6379/0: Redis did not '
        'answer within 1 s',
        'sessions unavailable: Redis at redis://host:6379/0: connection '
        'refused (and 999 more such in 10 s)',
    ]


def refused_connection():
    """A ConnectionError as redis-py raises it, over the socket's."""
    try:
        try:
            raise ConnectionRefusedError(111, 'Connection refused')
        except OSError:
            raise RedisConnectionError('Error 111 connecting to h:1.')
    except RedisConnectionError as e:
        return e


@pytest.mark.parametrize('error, cause', [
    (refused_connection(), 'connection refused'),
    (RedisTimeoutError('Timeout reading from h:1'),
     'Redis did not answer within 1 s'),
    (AuthenticationError('invalid username-password pair'),
     'authentication failed (invalid username-password pair)'),
    (ReadOnlyError("You can't write against a read only replica."),
     'the node is a read-only replica now (READONLY)'),
    (ResponseError('LOADING Redis is loading the dataset in memory'),
     'the node cannot take writes now (LOADING)'),
    (MasterNotFoundError("No master found for 'tutorial'"),
     'no sentinel names a master for it now (a failover under way, or a '
     'service name they do not watch)'),
], ids=['refused', 'timeout', 'authentication', 'readonly', 'loading',
        'no master'])
def test_each_failure_is_named_for_its_cause(error, cause):
    assert cause_of(error) == cause
