"""Several pserve processes with one secret serve one session.

A signed-cookie session lives in the visitor's cookie, so any process that
knows the secret can carry on the count, and losing a process loses
nothing.
"""
from tutorial.sessions.secrets import SECRET_ENV

from tests.support.cookies import count_on
from tests.support.servers import Server


SECRET = 'two-processes-one-secret-0123456789-' * 2


def visit(server, path, cookie):
    """One page view; returns the count shown and the cookie to keep."""
    status, headers, body = server.get(path, cookie=cookie)
    assert status == 200
    return count_on(body.decode()), headers['Set-Cookie'].split(';')[0]


def test_alternating_between_two_processes_shows_one_counter():
    env = {SECRET_ENV: SECRET}
    with Server('production.ini', env=env) as a, \
            Server('production.ini', env=env) as b:
        cookie = None
        counts = []
        for n in range(10):
            server, path = (a, '/') if n % 2 else (b, '/howdy')
            count, cookie = visit(server, path, cookie)
            counts.append(count)
        assert counts == list(range(1, 11))

        # one process dies mid-visit; the other carries on the count
        a.kill()
        assert a.process.returncode == -9
        for expected in (11, 12, 13):
            count, cookie = visit(b, '/', cookie)
            assert count == expected


def test_a_process_with_another_secret_starts_the_count_again():
    with Server('production.ini', env={SECRET_ENV: SECRET}) as a, \
            Server('production.ini', env={SECRET_ENV: SECRET[::-1]}) as b:
        count, cookie = visit(a, '/', None)
        count, cookie = visit(a, '/', cookie)
        assert count == 2
        count, cookie = visit(b, '/', cookie)
        assert count == 1
