"""Sessions that a leaked Redis, a race or age cannot take over.

- Redis holds no session token: keys are derived from it one way.
- Requests of one session take its lock in turn: parallel tabs lose no
  count, and a Reset cannot be undone by requests already in flight.
- A full Redis is named for what it is, and no log line shows a token or
  a command.
- A session ends at its absolute lifetime, however busy, in every store.
"""
import base64
import os
import re
import time

import pytest

from tutorial.sessions.lifetime import LifetimeSessions
from tutorial.sessions.redis.keys import LOCK_SUFFIX, SessionKeys
from tutorial.sessions.secrets import DEVELOPMENT_SECRET, SECRET_ENV
from tutorial.sessions.stores import STORE_ENV

from tests.support.project import PROJECT
from tests.support.redis_servers import RedisServer
from tests.support.servers import Server, run_pserve
from tests.support.visitors import (
    assert_parallel_requests_all_count,
    at_once,
    in_parallel,
    post_reset,
    visit,
    )


SECRET = 'no-takeover-secret-0123456789-' * 3


def token_of(cookie):
    """The token a Redis session cookie carries, under its signature."""
    value = cookie.split('=', 1)[1]
    raw = base64.urlsafe_b64decode(value + '=' * (-len(value) % 4))
    return raw[64:].decode('ascii')  # past the sha512 signature


@pytest.fixture
def redis_app(redis_server, redis):
    """redis.ini's app on a real pserve, sessions in the tests' Redis."""
    with Server('redis.ini', env={
            'TUTORIAL_REDIS_URL': redis_server.url}) as server:
        yield server


# Derived keys.

def test_no_redis_key_contains_the_token_of_the_cookie(redis_app, redis):
    status, count, cookie = visit(redis_app.port)
    status, count, cookie = visit(redis_app.port, '/howdy', cookie)
    assert count == 2
    token = token_of(cookie)
    keys = [key.decode() for key in redis.keys('*')]
    assert keys == [SessionKeys(DEVELOPMENT_SECRET).keys(token)[0]]
    assert not any(token in key for key in keys)
    # nor does any value: the session's data is all there is
    assert token.encode() not in redis.get(keys[0])
    # and the lock is given back: no lock key stays
    assert not any(key.endswith(LOCK_SUFFIX) for key in keys)


def test_the_key_is_an_hmac_that_changes_with_the_secret():
    token = 'a-token-from-a-cookie'
    one, = SessionKeys(SECRET).keys(token)
    other, = SessionKeys(SECRET[::-1]).keys(token)
    assert one != other and token not in one
    assert re.fullmatch(r'tutorial:session:\{[0-9a-f]{64}\}', one)


# The lock: parallel requests of one session.

@pytest.mark.parametrize('ini', ['redis.ini', 'production.ini'])
def test_sixteen_parallel_requests_of_one_session_lose_no_count(
        redis_server, redis, ini):
    env = {'TUTORIAL_REDIS_URL': redis_server.url}
    if ini == 'production.ini':
        env.update({SECRET_ENV: SECRET, STORE_ENV: 'redis'})
    with Server(ini, env=env) as server:
        assert_parallel_requests_all_count(server)


def test_without_the_lock_parallel_requests_race(redis_server, redis,
                                                 capsys):
    # without the lock, parallel requests race: measured, for those who
    # would rather race than wait
    with Server('redis.ini', env={
            'TUTORIAL_REDIS_URL': redis_server.url,
            'TUTORIAL_REDIS_SESSION_LOCK': 'false'}) as server:
        status, before, cookie = visit(server.port)
        assert set(in_parallel(server.port, cookie)) == {200}
        status, after, cookie = visit(server.port, '/', cookie)
        assert before + 1 < after <= before + 17
    with capsys.disabled():
        print('\n  without the lock, 16 parallel requests counted %d of 16'
              % (after - before - 1))


def test_a_reset_amid_requests_in_flight_is_not_undone(redis_app, redis):
    for _ in range(2):
        status, count, cookie = visit(redis_app.port)
        page = redis_app.get('/', cookie=cookie)[2].decode()
        token = re.search(r'name="csrf_token" value="(\w+)"', page).group(1)

        def press_reset():
            time.sleep(0.005)  # amid the others, not before them all
            # pressed again, as a visitor would, while the session is busy
            reset = [post_reset(redis_app.port, cookie, token)]
            while reset[-1] == 429:
                time.sleep(0.05)
                reset.append(post_reset(redis_app.port, cookie, token))
            return reset
        answers = at_once(
            press_reset, *[lambda: visit(redis_app.port, '/howdy', cookie)[0]]
            * 16)
        (reset,) = [answer for answer in answers if isinstance(answer, list)]
        statuses = [answer for answer in answers if answer is not reset]
        assert set(statuses) <= {200, 429}, statuses
        assert reset[-1] == 303 and set(reset[:-1]) <= {429}, reset
        # the old cookie starts again: nothing in flight brought it back
        assert visit(redis_app.port, '/', cookie)[1] == 1


def test_a_lock_left_by_a_dead_holder_expires_and_the_session_goes_on(
        redis_app, redis):
    status, count, cookie = visit(redis_app.port)
    (key,) = redis.keys('*')
    # what a request killed between its read and its save leaves behind
    redis.set(key + LOCK_SUFFIX.encode(), 'a-dead-holder', px=3000)
    started = time.monotonic()
    status = visit(redis_app.port, '/', cookie)[0]
    waited = time.monotonic() - started
    # it waited about 2 s for the lock, then got the 429 page: it never
    # hangs
    assert status == 429 and 1.5 < waited < 5
    log = redis_app.output()
    assert 'the session is busy' in log
    while redis.exists(key + LOCK_SUFFIX.encode()):
        time.sleep(0.05)
    assert visit(redis_app.port, '/', cookie)[:2] == (200, 2)


# A full Redis.

def test_a_full_redis_is_named_and_no_token_or_command_is_logged():
    with RedisServer(config=['maxmemory-policy noeviction']) as redis:
        client = redis.client()
        try:
            with Server('redis.ini', env={
                    'TUTORIAL_REDIS_URL': redis.url}) as server:
                status, count, cookie = visit(server.port)
                assert status == 200
                # full: maxmemory below what it holds, and no eviction
                client.config_set('maxmemory', 1)
                statuses = [visit(server.port, '/', cookie)[0]
                            for _ in range(3)] + [visit(server.port)[0]]
                log = server.output()
        finally:
            client.close()
    assert statuses == [503] * 4
    assert ('Redis is out of memory (maxmemory with policy noeviction): '
            'give sessions a policy that evicts, such as volatile-ttl') in log
    token = token_of(cookie)
    assert token not in log
    assert 'tutorial:session:' not in log
    for command in ('SETEX', 'SET ', 'GET ', 'Command #'):
        assert command not in log, log


# The absolute lifetime, under every store.

class FakeSession(dict):
    def __init__(self, created, new=False):
        super().__init__(counter=5)
        self.created, self.new = created, new

    def invalidate(self):
        self.clear()


@pytest.mark.parametrize('age, kept', [(3.9, True), (4.0, True),
                                       (4.1, False), (3600, False)])
def test_a_session_past_its_lifetime_is_new(age, kept):
    session = FakeSession(created=1000.0)
    sessions = LifetimeSessions(lambda request: session, 4,
                                clock=lambda: 1000.0 + age)
    assert (sessions(None) == {'counter': 5}) is kept
    if not kept:
        # the session that begins now is born now
        assert session.created == 1000.0 + age


@pytest.mark.parametrize('value', ['0', 'soon'])
def test_an_idle_timeout_that_is_not_a_positive_number_is_refused(value):
    from tutorial import main

    with pytest.raises(SystemExit) as refusal:
        main({}, **{'tutorial.session_timeout': value})
    assert str(refusal.value.code) == (
        "tutorial: tutorial.session_timeout is %r; it must be a whole "
        "number of seconds of 1 or more" % value)


@pytest.mark.parametrize('value', ['0', 'soon', '-5', '1.5'])
def test_a_lifetime_that_is_not_a_positive_number_is_refused(value):
    code, output = run_pserve('production.ini', {
        SECRET_ENV: SECRET, 'TUTORIAL_SESSION_LIFETIME': value})
    assert code == 1, output
    assert output.strip().splitlines() == [
        'tutorial: tutorial.session_lifetime (or TUTORIAL_SESSION_LIFETIME) '
        'is %r; it must be a whole number of seconds of 1 or more' % value]


@pytest.mark.parametrize('store', ['cookie', 'encrypted', 'redis'])
def test_a_busy_session_ends_at_its_lifetime(store, redis_server, redis,
                                             capsys):
    env = {SECRET_ENV: SECRET, STORE_ENV: store,
           'TUTORIAL_SESSION_LIFETIME': '4', 'TUTORIAL_WORKERS': '1',
           'TUTORIAL_REDIS_URL': redis_server.url}
    with Server('production.ini', env=env) as server:
        status, count, cookie = visit(server.port)
        started = time.monotonic()
        seen = [(0.0, count)]
        while time.monotonic() - started < 6:
            time.sleep(0.4)
            status, count, cookie = visit(server.port, '/', cookie)
            assert status == 200
            seen.append((time.monotonic() - started, count))
    # the same session, counting on, until 3.8 s ...
    early = [count for at, count in seen if at < 3.8]
    assert early == list(range(1, len(early) + 1)), seen
    # ... and a new one, from 1, by 6 s
    restarts = [at for (at, count), (_, before) in zip(seen[1:], seen)
                if count == 1]
    assert restarts and 3.8 <= restarts[0] <= 6, seen
    with capsys.disabled():
        print('\n  %s: lifetime 4 s, the session began again at %.1f s'
              % (store, restarts[0]))


# The rights docs/redis.rst gives the store's user: no more is needed.

STORE_ACL = '~* -@all +@read +@write +@transaction +@connection +@scripting'


def test_the_store_needs_no_more_rights_than_the_docs_give(capsys):
    with open(os.path.join(PROJECT, 'docs', 'redis.rst')) as f:
        assert STORE_ACL in f.read()
    password = 'store-user-password-Qm4'
    with RedisServer(password=password, acl=STORE_ACL) as redis:
        with Server('redis.ini', env={'TUTORIAL_REDIS_URL': redis.url_as(
                'app', password)}) as server:
            status, count, cookie = visit(server.port)
            statuses = in_parallel(server.port, cookie)
            assert set(statuses) <= {200, 429} and 200 in statuses
            status, count, cookie = visit(server.port, '/', cookie)
            assert count == 2 + statuses.count(200)
            page = server.get('/', cookie=cookie)[2].decode()
            token = re.search(r'name="csrf_token" value="(\w+)"',
                              page).group(1)
            assert post_reset(server.port, cookie, token) == 303
            assert visit(server.port, '/', cookie)[1] == 1
            assert 'NOPERM' not in server.output()
