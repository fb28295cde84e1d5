"""A person's tabs, and one session's flood. Requests of one session
wait for its lock in line: a person's tabs opened at once, and a Reset
among them, all get their pages, counted exactly. A flood cannot take
every thread: in each process, MAX_WAITING of a session's requests wait
while another holds the lock, and any more get the 429 page at once,
with Retry-After; the others' pages go on."""
import contextlib
import re
import time
from collections import Counter

import pytest

from tutorial.server.master import APP_THREADS
from tutorial.sessions.redis.causes import SessionBusy
from tutorial.sessions.redis.commands import (
    LINES,
    LOCK_WAIT,
    MAX_WAITING,
    WAITING,
    place_to_wait,
    )
from tutorial.sessions.stores import waiting_requests

from tests.support.cookies import PRODUCTION_SECRET
from tests.support.processes import uwsgi_option
from tests.support.servers import Server
from tests.support.visitors import at_once, connection, post_reset, visit

#: What a person may open at once: a window's tabs, restored together.
TABS = 8


@pytest.mark.parametrize('store, lock, waiting', [
    ('cookie', None, 0),
    ('encrypted', None, 0),
    ('redis', None, MAX_WAITING),
    ('redis', 'false', 0),
])
def test_a_server_gives_threads_to_those_that_may_wait(store, lock,
                                                       waiting):
    settings = {'tutorial.session_store': store}
    if lock:
        settings['tutorial.redis_session_lock'] = lock
    assert waiting_requests(settings, environ={}) == waiting


def test_a_place_to_wait_is_given_back_whatever_happens():
    assert MAX_WAITING >= TABS
    with contextlib.ExitStack() as places:
        lines = {places.enter_context(place_to_wait('s'))
                 for _ in range(MAX_WAITING)}
        # one line for the session, whoever waits in it
        assert WAITING == {'s': MAX_WAITING} and lines == {LINES['s']}
        # more than MAX_WAITING of one session: refused at once
        with pytest.raises(SessionBusy):
            with place_to_wait('s'):
                pass
        # another session waits where it likes, in a line of its own
        with place_to_wait('t') as line:
            assert WAITING == {'s': MAX_WAITING, 't': 1}
            assert line is not LINES['s']
    with pytest.raises(RuntimeError):
        with place_to_wait('s'):
            raise RuntimeError('the request failed while it waited')
    assert WAITING == {} and LINES == {}


def busy_page(port, cookie):
    """One request: its status, Retry-After, body and seconds taken."""
    started = time.monotonic()
    conn = connection(port)
    try:
        conn.request('GET', '/howdy', headers={'Cookie': cookie})
        response = conn.getresponse()
        body = response.read().decode()
        return (response.status, response.getheader('Retry-After'), body,
                time.monotonic() - started)
    finally:
        conn.close()


@pytest.mark.parametrize('ini', ['redis.ini', 'production.ini'])
def test_a_persons_tabs_opened_at_once_all_get_pages_counted_exactly(
        redis_server, redis, ini):
    env = {'TUTORIAL_REDIS_URL': redis_server.url,
           'TUTORIAL_SESSION_STORE': 'redis',
           'TUTORIAL_SESSION_SECRET': PRODUCTION_SECRET}
    with Server(ini, env=env) as server:
        status, before, cookie = visit(server.port)
        for _ in range(3):
            tabs = at_once(*[lambda: busy_page(server.port, cookie)] * TABS)
            assert [tab[0] for tab in tabs] == [200] * TABS
            status, after, cookie = visit(server.port, '/', cookie)
            assert after == before + TABS + 1
            before = after
        # and a Reset pressed among them: done at once, never undone
        page = busy_page(server.port, cookie)[2]
        token = re.search(r'name="csrf_token" value="(\w+)"', page).group(1)
        answers = at_once(
            lambda: ('reset', post_reset(server.port, cookie, token)),
            *[lambda: busy_page(server.port, cookie)] * TABS)
        assert Counter(answer[:2] for answer in answers) == Counter(
            {('reset', 303): 1, (200, None): TABS})
        assert visit(server.port, '/', cookie)[1] == 1


def test_a_flood_of_one_session_gets_429_at_once_and_counts_stay_exact(
        redis_server, redis):
    # production's workers have more threads than may wait for one
    # session (production.ini): those beyond are turned away
    env = {'TUTORIAL_REDIS_URL': redis_server.url,
           'TUTORIAL_SESSION_STORE': 'redis',
           'TUTORIAL_SESSION_SECRET': PRODUCTION_SECRET}
    with Server('production.ini', env=env) as server:
        # a worker's threads: the app's, and those that may wait
        assert uwsgi_option(server.process.pid, '--threads') \
            == str(APP_THREADS + MAX_WAITING)
        status, before, cookie = visit(server.port)
        answers = at_once(*[lambda: busy_page(server.port, cookie)] * 64)
        status, after, cookie = visit(server.port, '/', cookie)
    statuses = [answer[0] for answer in answers]
    assert set(statuses) == {200, 429}, statuses
    for status, retry_after, body, seconds in answers:
        if status == 429:
            assert retry_after == '1'
            assert 'Your session is busy' in body
            # refused at once, not after the lock's whole wait
            assert seconds < LOCK_WAIT
    # every page served was counted, and none twice
    assert after == before + 1 + statuses.count(200)


def test_a_crowded_session_is_turned_away_before_the_app_works(
        app_from_ini, redis_server, redis, monkeypatch):
    # while one of its requests waits for the lock in this process, the
    # next is answered at once, without reading or writing the session
    from tests.support.wsgi import wsgi_request

    app = app_from_ini('redis.ini', TUTORIAL_REDIS_URL=redis_server.url)
    status, cookie, body = wsgi_request(app, 'GET', '/')
    (key,) = redis.keys('*')
    before = redis.get(key)
    monkeypatch.setitem(WAITING, key.decode(), MAX_WAITING)
    status, kept, body = wsgi_request(app, 'GET', '/', cookie)
    assert status.startswith('429')
    assert b'Your session is busy' in body
    assert redis.get(key) == before and redis.keys('*') == [key]
    monkeypatch.delitem(WAITING, key.decode())
    assert wsgi_request(app, 'GET', '/', cookie)[0] == '200 OK'
