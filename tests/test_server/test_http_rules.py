"""HTTP/1.1's rules, on every server shipped, over raw sockets.

Each case runs against production straight (`pserve production.ini`:
nginx in front of uWSGI's workers), production behind deploy/nginx (over
TLS), and development's waitress. RFC 9112 asks: a request or an answer
that says ``close`` is followed by the close; HTTP/1.0 is closed after
its answer unless it asks to be kept; pipelined requests are answered in
order; HEAD has no body; a request that says ``Expect: 100-continue`` is
told to go on; a request framed two ways is refused or answered once and
closed; a head too large gets a 4xx page; a request in absolute form is
served, for a host the app serves; an HTTP/1.1 request with no Host gets
a 400. Every read has a bound, so that no case hangs: a server that
keeps a connection it should close fails, it does not wait the test out.
"""
import re
import socket
import ssl

import pytest

from tutorial.sessions.secrets import SECRET_ENV

from tests.support.nginx import Nginx
from tests.support.servers import Server
from tests.support.visitors import SlowClients, page_times, read_to_close

SECRET = 'http-rules-secret-0123456789-abcdefghij-' * 2
ENV = {SECRET_ENV: SECRET, 'TUTORIAL_WORKERS': '2'}
FRONTS = ['production', 'nginx', 'development']
#: How long a connection may stay open after the answer that should end
#: it: far more than a close takes, far less than uWSGI's old 4 s.
CLOSE_WITHIN = 2.0
#: How long the first answer may take (a worker may still be starting).
ANSWER_WITHIN = 10.0

#: What waitress does not do (docs/production.rst): it reads a request
#: framed both ways by its Transfer-Encoding, as RFC 9112 allows, but
#: then keeps the connection, which the RFC forbids. It takes the header
#: out of the environ, so the app cannot tell. Fixed upstream
#: (Pylons/waitress#475, merged 2025-07), in no release yet: 3.0.2 is
#: the newest, and this fails the run on the first that has the fix.
WAITRESS_KEEPS_DOUBLY_FRAMED = pytest.mark.xfail(
    strict=True, raises=AssertionError, reason='waitress keeps the '
    'connection of a request framed by both Content-Length and '
    'Transfer-Encoding (fixed by Pylons/waitress#475, not yet released)')


class Front:
    """One way in to the app: connections to it, and the Host to name."""

    def __init__(self, name, port, tls=None):
        self.name, self.port, self.tls = name, port, tls
        self.host = b'localhost'
        self.origin = b'%s://localhost:%d' % (
            b'https' if tls else b'http', port)

    def connect(self):
        s = socket.create_connection(('127.0.0.1', self.port), 5)
        if self.tls is not None:
            s = self.tls.wrap_socket(s, server_hostname='localhost')
        return s


@pytest.fixture(scope='module')
def production():
    with Server('production.ini', env=ENV) as server:
        yield server


@pytest.fixture(scope='module', params=FRONTS)
def front(request, production, certificates):
    if request.param == 'production':
        yield Front('production', production.port)
    elif request.param == 'nginx':
        with Nginx(production, certificates) as nginx:
            yield Front('nginx', nginx.port, ssl.create_default_context(
                cafile=certificates['ca']))
    else:
        with Server('development.ini') as server:
            yield Front('development', server.port)


def exchange(front, data, then=None):
    """Send ``data`` (and ``then``, once the server has said anything),
    and read until the server closes: what it sent, and whether it
    closed within CLOSE_WITHIN seconds of its last bytes."""
    with front.connect() as s:
        s.sendall(data)
        first = b''
        if then is not None:
            first, closed = read_to_close(s, ANSWER_WITHIN, idle=0.2)
            if closed:
                return first, closed
            s.sendall(then)
        received, closed = read_to_close(
            s, CLOSE_WITHIN if first else ANSWER_WITHIN, CLOSE_WITHIN)
    return first + received, closed


STATUS = re.compile(rb'(?m)^HTTP/1\.[01] (\d{3}) ')


def statuses(received):
    """The statuses of every answer, interim ones included, in order."""
    return [int(status) for status in STATUS.findall(received)]


def http(front, method='GET', path='/', headers=b'', body=b'',
         version=b'HTTP/1.1'):
    return (b'%s %s %s\r\nHost: %s\r\n%s\r\n%s'
            % (method.encode(), path.encode(), version, front.host, headers,
               body))


def test_a_request_that_says_close_is_closed_after_its_answer(front):
    received, closed = exchange(
        front, http(front, headers=b'Connection: close\r\n'))
    assert statuses(received) == [200]
    assert received.endswith(b'</html>\n')
    assert closed, '%s kept the connection' % front.name


def test_http_1_0_is_closed_after_its_answer(front):
    received, closed = exchange(
        front, http(front, version=b'HTTP/1.0'))
    assert statuses(received) == [200]
    assert closed, '%s kept the connection' % front.name


def test_an_answer_that_says_close_is_followed_by_the_close(front):
    # a request no server keeps the connection for: a 400 for a form
    # without its token says close, or the connection goes on
    received, closed = exchange(front, http(
        front, 'POST', '/reset', b'Content-Type: application/x-www-form-'
        b'urlencoded\r\nContent-Length: 3\r\n', b'a=1'))
    assert statuses(received) == [400]
    says_close = re.search(rb'(?im)^connection: *close\r$', received)
    assert closed or not says_close, '%s said close, then kept it' % (
        front.name)


def test_a_kept_connection_answers_each_request_in_turn(front):
    with front.connect() as s:
        s.settimeout(5)
        for path, name in (('/', b'Home'), ('/howdy', b'Hello')):
            s.sendall(http(front, path=path))
            answer = read_one_answer(s)
            assert statuses(answer) == [200]
            assert b'<h1>Hi %s View</h1>' % name in answer


def read_one_answer(s):
    """One answer with a Content-Length, read whole from ``s``."""
    received = b''
    while b'\r\n\r\n' not in received:
        received += s.recv(65536) or pytest.fail('closed: %r' % received)
    head, body = received.split(b'\r\n\r\n', 1)
    length = int(re.search(rb'(?im)^content-length: *(\d+)', head).group(1))
    while len(body) < length:
        body += s.recv(65536) or pytest.fail('closed: %r' % received)
    return head + b'\r\n\r\n' + body


def test_pipelined_requests_are_answered_in_order(front):
    received, closed = exchange(front, http(front) + http(
        front, path='/howdy', headers=b'Connection: close\r\n'))
    pages = re.findall(rb'<h1>Hi (\w+) View</h1>', received)
    assert closed
    assert pages == [b'Home', b'Hello']
    assert statuses(received) == [200, 200]


def test_a_request_in_absolute_form_is_served_for_the_host_it_names(front):
    # RFC 9112 3.2.2: the host of the request line, not the Host header
    target = front.origin.decode() + '/howdy'
    received, closed = exchange(front, http(
        front, path=target, headers=b'Connection: close\r\n'))
    assert statuses(received) == [200]
    assert b'<h1>Hi Hello View</h1>' in received
    assert closed


def test_the_host_of_an_absolute_form_is_judged_like_a_host_header(front):
    received, closed = exchange(front, http(
        front, path='http://evil.example/howdy',
        headers=b'Connection: close\r\n'))
    assert statuses(received) == [400]
    assert b'Hi Hello View' not in received


def test_http_1_1_with_no_host_gets_a_400_page(front):
    received, closed = exchange(
        front, b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert statuses(received) == [400]
    assert b'Count:' not in received
    assert received.split(b'\r\n\r\n', 1)[1].strip(), received
    assert closed


def test_head_gets_the_headers_and_no_body(front):
    received, closed = exchange(front, http(
        front, 'HEAD', headers=b'Connection: close\r\n'))
    assert statuses(received) == [200]
    assert received.endswith(b'\r\n\r\n'), received[-200:]
    assert closed


def first_visit(front):
    """A first visit's session cookie and the form's token."""
    received, _ = exchange(front, http(
        front, headers=b'Connection: close\r\n'))
    cookie = re.search(rb'(?im)^set-cookie: *(session=[^;]+)', received)
    token = re.search(rb'name="csrf_token" value="([0-9a-f]+)"', received)
    return cookie.group(1), token.group(1)


def test_expect_100_continue_is_told_to_go_on_and_the_form_works(front):
    cookie, token = first_visit(front)
    body = b'csrf_token=' + token
    # the body is sent only once the server has said something: a 100
    # Continue (or an early final answer) must come without it
    received, closed = exchange(front, http(
        front, 'POST', '/reset',
        b'Cookie: %s\r\nOrigin: %s\r\n'
        b'Content-Type: application/x-www-form-urlencoded\r\n'
        b'Content-Length: %d\r\nExpect: 100-continue\r\n'
        b'Connection: close\r\n' % (cookie, front.origin, len(body))),
        then=body)
    assert statuses(received) == [100, 303], received[:500]
    assert closed


def test_content_length_with_transfer_encoding_is_never_answered_twice(
        request, front):
    if front.name == 'development':
        request.applymarker(WAITRESS_KEEPS_DOUBLY_FRAMED)
    # the chunked body ends at once; framed by its Content-Length, the
    # request would swallow the start of the next one: a server that
    # answers both has read them two ways
    smuggled = http(front, 'POST', '/', b'Content-Length: 5\r\n'
                    b'Transfer-Encoding: chunked\r\n', b'0\r\n\r\n')
    received, closed = exchange(front, smuggled + http(
        front, path='/howdy', headers=b'Connection: close\r\n'))
    answers = statuses(received)
    assert len(answers) == 1 and answers[0] < 500, answers
    assert b'Hi Hello View' not in received
    assert closed


def test_two_different_content_lengths_get_a_400(front):
    received, closed = exchange(front, http(
        front, 'POST', '/', b'Content-Length: 3\r\nContent-Length: 4\r\n',
        b'abcd'))
    assert statuses(received) == [400]


def test_a_head_larger_than_the_server_takes_gets_a_4xx_answer(front):
    # 300 kB: more than any of them takes (production's nginx 17 kB,
    # deploy/nginx 32 kB, waitress 256 kB)
    lines = b''.join(b'X-Large-%d: %s\r\n' % (n, b'a' * 990)
                     for n in range(300))
    received, closed = exchange(front, http(
        front, headers=lines + b'Connection: close\r\n'))
    assert statuses(received)[:1] in ([400], [431]), received[:300]
    assert received.split(b'\r\n\r\n', 1)[1].strip(), received
    assert closed


# Straight to production: clients that cost connections and no work.

def test_slow_heads_slow_bodies_and_held_connections_leave_every_page(
        production, capsys):
    # nginx holds them all, and hands a worker only a whole request: 64
    # trickling bodies are eight times the threads of its two workers
    # (how fast each page comes is bench/production.py's to measure)
    with SlowClients(production.port, lingering=16, trickling=64,
                     bodies=64):
        pages = page_times(production.port)
    assert [status for status, seconds in pages] == [200] * len(pages)
    with capsys.disabled():
        print('\n  16 lingering, 64 trickling heads and 64 trickling '
              'bodies: the slowest of %d pages in %.3f s' % (
                  len(pages), max(seconds for status, seconds in pages)))
