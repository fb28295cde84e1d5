"""Every byte a browser sends reaches the app, on every server shipped.

PEP 3333: a header's value reaches the app as a native string decoded
as latin-1, so that ``value.encode('latin-1')`` gives back the bytes that
came. A server that empties or rewrites a value it cannot read as ASCII
loses the whole Cookie header with one stray cookie, and the session with
it. Real `pserve` processes, over raw sockets: production's uWSGI and
development's waitress, serving the app, or an echo that shows what it
was handed (tests/support/wsgi_echo.py, inside wsgiref's validator).
"""
import json
import re
import socket
import ssl

import pytest

from tutorial.sessions.secrets import SECRET_ENV

from tests.support.nginx import Nginx
from tests.support.processes import workers_of
from tests.support.project import PROJECT
from tests.support.servers import Server
from tests.support.visitors import raw_request, read_to_close, status_of
from tests.support.wsgi_echo import APP_SECTION

SECRET = 'every-byte-secret-0123456789-' * 3
ENV = {SECRET_ENV: SECRET, 'TUTORIAL_WORKERS': '2'}
SERVERS = ['production.ini', 'development.ini']

#: What a neighbouring page's script may leave beside the session: UTF-8
#: (as document.cookie sets it), latin-1, bytes that are neither, and a
#: name that is not ASCII.
STRAY_COOKIES = [b'c=\xc3\xa9t\xc3\xa9', b'c=caf\xe9', b'd=\xff\xfe',
                 b'\xe2\x82\xac=1']


@pytest.fixture(scope='module')
def production():
    with Server('production.ini', env=ENV) as server:
        workers_of(server, 2)
        yield server


@pytest.fixture(scope='module', params=SERVERS)
def echo(request):
    """The echo, served as each ini file serves the app."""
    env = dict(ENV, PYTHONPATH=PROJECT)
    with Server(request.param, env=env, app_section=APP_SECTION) as server:
        yield server


def get(port, headers=b'', path=b'/'):
    """A GET with ``headers`` (raw lines, each ending in CRLF): the
    status and all of the answer."""
    return raw_request(port, b'GET %s HTTP/1.1\r\nHost: localhost\r\n%s'
                       b'Connection: close\r\n\r\n' % (path, headers))


def session_of(answer):
    cookie = re.search(rb'Set-Cookie: (session=[^;]+)', answer)
    return cookie.group(1) if cookie else None


def count_of(answer):
    return int(re.search(rb'Count: (\d+)', answer).group(1))


def seen(echo, headers):
    """What the echo was handed: each HTTP_* value's bytes."""
    status, answer = get(echo.port, headers)
    assert status == 200, answer[:300]
    shown = json.loads(answer.split(b'\r\n\r\n', 1)[1])
    return {name: bytes.fromhex(value) for name, value in shown.items()}


# A stray cookie beside the session: the count goes on.

@pytest.mark.parametrize('stray', STRAY_COOKIES)
@pytest.mark.parametrize('before', [True, False], ids=['before', 'after'])
def test_a_stray_cookie_beside_the_session_loses_nothing(
        production, stray, before):
    status, answer = get(production.port)
    session = session_of(answer)
    for expected in (2, 3, 4):
        cookies = stray + b'; ' + session if before \
            else session + b'; ' + stray
        status, answer = get(production.port, b'Cookie: %s\r\n' % cookies)
        assert status == 200
        assert count_of(answer) == expected
        session = session_of(answer) or session


def test_reset_with_a_stray_cookie_and_the_token_is_a_303(production):
    status, answer = get(production.port)
    session = session_of(answer)
    cookies = b'c=caf\xe9; ' + session + b'; d=\xff\xfe'
    status, answer = get(production.port, b'Cookie: %s\r\n' % cookies)
    token = re.search(rb'name="csrf_token" value="(\w+)"', answer).group(1)
    body = b'csrf_token=' + token
    status, answer = raw_request(
        production.port, b'POST /reset HTTP/1.1\r\nHost: localhost\r\n'
        b'Cookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n'
        b'Content-Length: %d\r\nConnection: close\r\n\r\n%s'
        % (cookies, len(body), body))
    assert status == 303, answer[:300]
    session = session_of(answer)
    status, answer = get(production.port, b'Cookie: c=caf\xe9; %s\r\n'
                         % session)
    assert count_of(answer) == 1
    assert b'The counter was reset' in answer


# What the app is handed, byte for byte.

@pytest.mark.parametrize('name, value', [
    (b'User-Agent', b'Mozilla/5.0 \xc3\xa9t\xc3\xa9 \xff'),
    (b'Referer', b'https://localhost/caf\xe9'),
    (b'Cookie', b'c=\xc3\xa9t\xc3\xa9; d=\xff\xfe; session=abc'),
    (b'Accept-Language', b'fr-\xe9, en;q=0.5'),
])
def test_a_header_reaches_the_app_as_its_latin_1_bytes(echo, name,
                                                       value):
    key = 'HTTP_' + name.decode().upper().replace('-', '_')
    assert seen(echo, b'%s: %s\r\n' % (name, value))[key] == value


def test_repeated_cookie_headers_reach_the_app_as_one(echo):
    # joined with ", ", as RFC 9110 joins a repeated field (waitress), or
    # with "; ", as cookies are joined (nginx, as RFC 9113 8.2.3 has it)
    handed = seen(echo, b'Cookie: a=1\r\nCookie: b=2; c=3\r\n')
    assert handed['HTTP_COOKIE'] in (b'a=1, b=2; c=3', b'a=1; b=2; c=3')


@pytest.mark.parametrize('server', SERVERS)
def test_the_session_in_a_second_cookie_header_counts_on(server):
    # the app reads ", " between cookies as it reads "; "
    with Server(server, env=ENV) as app:
        status, answer = get(app.port)
        session = session_of(answer)
        for expected in (2, 3):
            status, answer = get(app.port, b'Cookie: c=caf\xe9\r\n'
                                 b'Cookie: %s\r\n' % session)
            assert count_of(answer) == expected
            session = session_of(answer) or session


def test_a_header_of_8_kb_and_a_hundred_headers_are_served(echo):
    assert seen(echo, b'X-Long: %s\r\n' % (b'a' * 8192))['HTTP_X_LONG'] \
        == b'a' * 8192
    many = b''.join(b'X-H%d: %d\r\n' % (n, n) for n in range(100))
    assert seen(echo, many)['HTTP_X_H99'] == b'99'


# What HTTP forbids in a header value.

def test_a_folded_header_gets_a_400_page_in_production(production):
    # nginx refuses it, with the app's page for a request it cannot read
    status, answer = get(production.port, b'X-Folded: a\r\n b\r\n')
    assert status == 400, answer[:300]
    assert b'This request could not be read' in answer


def test_waitress_unfolds_a_folded_header_as_rfc_9112_allows():
    with Server('development.ini', env=dict(ENV, PYTHONPATH=PROJECT),
                app_section=APP_SECTION) as echo:
        assert seen(echo, b'X-Folded: a\r\n b\r\n')['HTTP_X_FOLDED'] \
            == b'a b'


@pytest.mark.parametrize('server', SERVERS)
def test_a_folded_cookie_header_costs_no_5xx(server):
    with Server(server, env=ENV) as app:
        status, answer = get(app.port, b'Cookie: a=1\r\n b=2\r\n')
        assert status in (200, 400), answer[:300]
        assert b'Traceback' not in answer


@pytest.mark.parametrize('server', SERVERS)
def test_a_bare_cr_in_a_header_gets_a_400_and_no_page(server):
    # RFC 9112 2.2: refused, by production's nginx and by waitress
    with Server(server, env=ENV) as app:
        status, answer = get(app.port, b'X-Cr: a\rb\r\n')
        assert b'Traceback' not in answer
        assert status == 400, answer[:300]
        assert b'Count:' not in answer
        assert get(app.port)[0] == 200


# Through deploy/nginx, as production is deployed.

def through(proxy, request):
    """``request`` (bytes) sent through the proxy over TLS: its status and
    all of the answer."""
    context = ssl.create_default_context(cafile=proxy.ca)
    with socket.create_connection(('127.0.0.1', proxy.port), 10) as raw, \
            context.wrap_socket(raw, server_hostname='localhost') as s:
        s.sendall(request)
        answer, closed = read_to_close(s, idle=10)
    return status_of(answer), answer


def test_through_nginx_stray_cookies_keep_the_session_and_a_cr_is_a_400(
        production, certificates):
    with Nginx(production, certificates) as proxy:
        proxy.ca = certificates['ca']
        head = b'GET / HTTP/1.1\r\nHost: localhost\r\n%sConnection: ' \
            b'close\r\n\r\n'
        status, answer = through(proxy, head % b'')
        session = session_of(answer)
        for expected, stray in enumerate(STRAY_COOKIES, 2):
            status, answer = through(proxy, head % (
                b'Cookie: %s; %s\r\n' % (stray, session)))
            assert status == 200 and count_of(answer) == expected
            session = session_of(answer) or session
        status, answer = through(proxy, head % b'X-Cr: a\rb\r\n')
        assert status == 400
