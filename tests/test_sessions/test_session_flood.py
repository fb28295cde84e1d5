"""One session's flood cannot take every thread: in each process, one of
a session's requests waits for its lock while another holds it, and any
more get the 429 page at once, with Retry-After; the others' pages go
on."""
import threading
import time

import pytest

from tutorial.sessions.redis.causes import SessionBusy
from tutorial.sessions.redis.commands import (
    LOCK_WAIT,
    MAX_WAITING,
    WAITING,
    place_to_wait,
    )

from tests.support.cookies import PRODUCTION_SECRET
from tests.support.servers import Server
from tests.support.visitors import connection, visit


def test_a_place_to_wait_is_given_back_whatever_happens():
    with place_to_wait('s'):
        assert WAITING == {'s': 1}
        # more than MAX_WAITING of one session: refused at once
        with pytest.raises(SessionBusy):
            with place_to_wait('s'):
                pass
        # another session waits where it likes
        with place_to_wait('t'):
            assert WAITING == {'s': 1, 't': 1}
    with pytest.raises(RuntimeError):
        with place_to_wait('s'):
            raise RuntimeError('the request failed while it waited')
    assert WAITING == {} and MAX_WAITING == 1


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
def test_a_flood_of_one_session_gets_429_at_once_and_counts_stay_exact(
        redis_server, redis, ini):
    env = {'TUTORIAL_REDIS_URL': redis_server.url,
           'TUTORIAL_SESSION_STORE': 'redis',
           'TUTORIAL_SESSION_SECRET': PRODUCTION_SECRET}
    with Server(ini, env=env) as server:
        status, before, cookie = visit(server.port)
        answers = []
        start = threading.Barrier(24)

        def one():
            start.wait()
            answers.append(busy_page(server.port, cookie))
        threads = [threading.Thread(target=one) for _ in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
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
