"""Production behind a real nginx: the server block in deploy/nginx.

deploy/nginx/render fills in the block for a free port and certificates
made for this run; nginx runs it as a plain process (its own pid, logs and
temporary files in a folder of the test's), in front of a real `pserve
production.ini`. What the proxy adds is tried as a visitor and as a
hostile client would: TLS and HTTP/2, forwarded headers it must not pass
on, slow clients, and bodies far larger than the app's one form.
"""
import http.client
import os
import re
import select
import socket
import ssl
import subprocess
import time

import pytest

from tutorial.sessions.secrets import SECRET_ENV

from tests.support.browser import shot
from tests.support.cookies import count_on
from tests.support.nginx import Nginx, https, render
from tests.support.processes import group_rss_kb
from tests.support.project import PROJECT, require
from tests.support.servers import Server


SECRET = 'behind-the-proxy-secret-0123456789-' * 2
#: The body the hostile client sends: far more than any form.
LARGE_BODY = 50 * 1024 * 1024


@pytest.fixture(scope='module')
def app():
    """`pserve production.ini`, as deployed behind the proxy."""
    with Server('production.ini', env={SECRET_ENV: SECRET}) as server:
        yield server


@pytest.fixture(scope='module')
def proxy(app, certificates):
    with Nginx(app, certificates) as nginx:
        yield nginx


@pytest.fixture(scope='module')
def tls(certificates):
    """What a client that trusts the tests' authority connects with."""
    return ssl.create_default_context(cafile=certificates['ca'])


def test_the_rendered_block_passes_nginx_t_with_no_warning(app,
                                                           certificates):
    nginx = Nginx(app, certificates)
    try:
        status, output = nginx.test()
    finally:
        nginx.__exit__()
    assert status == 0, output
    assert 'test is successful' in output
    assert '[warn]' not in output and '[emerg]' not in output, output
    # nginx's own variables were left alone, and every name filled in
    assert '$host' in nginx.site and '${' not in nginx.site


def test_render_names_a_missing_value_in_one_line():
    done = subprocess.run(
        [os.path.join(PROJECT, 'deploy', 'nginx', 'render')],
        env={'PATH': os.environ['PATH'], 'TUTORIAL_SERVER_NAME': 'x'},
        capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == ('render: TUTORIAL_TLS_PORT is not set '
                                   '(docs/production.rst)')


# The TLS an auditor reads: Mozilla's intermediate profile, tried with
# pinned protocols and suites against an RSA certificate (so that a
# static-RSA suite could be chosen, were it offered).

@pytest.fixture(scope='module')
def rsa_proxy(app, certificates):
    with Nginx(app, certificates, server='server_rsa') as nginx:
        yield nginx


def handshake(port, ca, version, ciphers=None):
    """A TLS handshake at exactly ``version`` (and, for TLS 1.2, only
    ``ciphers``): the suite agreed, or the error's reason if the server
    refused."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca)
    # the client itself allows anything the server might: what fails, the
    # server refused (OpenSSL's security level 0 lets TLS 1.1 and SHA-1
    # suites be offered at all)
    context.set_ciphers((ciphers or 'ALL') + ':@SECLEVEL=0')
    context.minimum_version = context.maximum_version = version
    with socket.create_connection(('127.0.0.1', port), 5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname='localhost') as s:
                return s.cipher()[0]
        except (ssl.SSLError, ConnectionResetError) as e:
            return 'refused: %s' % getattr(e, 'reason', e)


@pytest.mark.parametrize('version', ['-tls1', '-tls1_1'])
def test_tls_before_1_2_is_refused(rsa_proxy, certificates, version):
    # openssl s_client, as auditors use it (Python's ssl warns at once on
    # these versions); security level 0 lets it offer them at all
    openssl = require('openssl')
    done = subprocess.run(
        [openssl, 's_client', '-connect', '127.0.0.1:%d' % rsa_proxy.port,
         '-servername', 'localhost', version, '-cipher',
         'ALL:@SECLEVEL=0', '-CAfile', certificates['ca']],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    # the server's refusal, not a client that could not offer it
    assert 'alert protocol version' in output, output
    assert 'no protocols available' not in output


@pytest.mark.parametrize('suite', [
    'AES128-SHA', 'AES128-GCM-SHA256',  # no forward secrecy
    'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA256',  # CBC
    'AES256-SHA256', 'ECDHE-RSA-AES256-SHA384', 'CAMELLIA128-SHA'])
def test_tls_1_2_suites_outside_the_profile_are_refused(
        rsa_proxy, certificates, suite):
    agreed = handshake(rsa_proxy.port, certificates['ca'],
                       ssl.TLSVersion.TLSv1_2, suite)
    assert agreed.startswith('refused'), agreed


@pytest.mark.parametrize('suite', [
    'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-RSA-CHACHA20-POLY1305'])
def test_tls_1_2_with_forward_secrecy_and_aead_is_accepted(
        rsa_proxy, certificates, suite):
    assert handshake(rsa_proxy.port, certificates['ca'],
                     ssl.TLSVersion.TLSv1_2, suite) == suite


def test_tls_1_3_is_accepted(rsa_proxy, proxy, certificates):
    for nginx in (rsa_proxy, proxy):
        agreed = handshake(nginx.port, certificates['ca'],
                           ssl.TLSVersion.TLSv1_3)
        assert agreed.startswith('TLS_'), agreed


def test_an_ecdsa_certificate_gets_its_own_ecdhe_suites(proxy, certificates):
    assert handshake(proxy.port, certificates['ca'], ssl.TLSVersion.TLSv1_2,
                     'ECDHE-ECDSA-AES128-GCM-SHA256') \
        == 'ECDHE-ECDSA-AES128-GCM-SHA256'
    assert handshake(proxy.port, certificates['ca'], ssl.TLSVersion.TLSv1_2,
                     'ECDHE-ECDSA-AES128-SHA').startswith('refused')


def test_no_version_in_the_server_header_on_pages_or_nginx_own_413(
        proxy, tls):
    status, headers, body = https(proxy, tls, 'GET', '/')
    assert status == 200 and headers['Server'] == 'nginx'
    status, headers, body = https(
        proxy, tls, 'POST', '/reset', {
            'Content-Type': 'application/x-www-form-urlencoded'},
        b'a' * 20000)
    assert status == 413
    assert headers['Server'] == 'nginx'
    assert not re.search(rb'nginx/\d', body), body


def test_the_proxy_refuses_metrics_and_passes_the_probes(proxy, tls, app):
    status, headers, body = https(proxy, tls, 'GET', '/metrics')
    assert status == 404
    assert b'tutorial_' not in body
    # straight at the app's port, on the host, the scraper reads them
    assert app.get('/metrics')[0] == 200
    status, headers, body = https(proxy, tls, 'GET', '/healthz')
    assert status == 200 and body == b'ok\n'


def test_stapling_is_rendered_only_for_a_certificate_with_a_responder(
        certificates):
    names = dict(TUTORIAL_SERVER_NAME='localhost', TUTORIAL_TLS_PORT='443',
                 TUTORIAL_APP='127.0.0.1:6543', TUTORIAL_STATIC='/srv')
    plain = render(TUTORIAL_TLS_CERT=certificates['server'],
                   TUTORIAL_TLS_KEY=certificates['server_key'], **names)
    ocsp = render(TUTORIAL_TLS_CERT=certificates['server_ocsp'],
                  TUTORIAL_TLS_KEY=certificates['server_ocsp_key'], **names)
    assert re.search(r'(?m)^ *ssl_stapling on;$', ocsp)
    assert re.search(r'(?m)^ *ssl_stapling_verify on;$', ocsp)
    assert re.search(r'(?m)^ *ssl_stapling off;$', plain)
    assert re.search(r'(?m)^ *ssl_stapling_verify off;$', plain)


def test_the_proxy_speaks_http2_over_tls(proxy, certificates):
    context = ssl.create_default_context(cafile=certificates['ca'])
    context.set_alpn_protocols(['h2', 'http/1.1'])
    with socket.create_connection(('127.0.0.1', proxy.port), 5) as raw:
        with context.wrap_socket(raw, server_hostname='localhost') as s:
            assert s.selected_alpn_protocol() == 'h2'
            assert s.version() in ('TLSv1.2', 'TLSv1.3')


def test_static_files_come_from_the_proxy_with_their_cache_headers(
        proxy, tls):
    status, headers, body = https(proxy, tls, 'GET', '/static/tutorial.css')
    assert status == 200
    with open(os.path.join(PROJECT, 'tutorial', 'pages', 'static',
                           'tutorial.css'), 'rb') as f:
        assert body == f.read()
    assert headers['Cache-Control'] == 'max-age=3600'
    assert headers['X-Content-Type-Options'] == 'nosniff'
    status, headers, body = https(proxy, tls, 'GET', '/favicon.ico')
    assert status == 200 and headers['Content-Type'] == 'image/x-icon'


def test_in_chromium_over_https_the_count_rises_and_reset_stays_https(
        proxy, browser):
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        base = 'https://localhost:%d' % proxy.port
        page.goto(base + '/')
        assert count_on(page.inner_text('main')) == 1
        page.reload()
        assert count_on(page.inner_text('main')) == 2
        page.goto(base + '/howdy')
        assert count_on(page.inner_text('main')) == 3
        page.click('text=Reset the counter')
        page.wait_for_selector('.flash')
        assert page.url == base + '/'
        assert 'The counter was reset' in page.inner_text('main')
        assert count_on(page.inner_text('main')) == 1
        shot(page, 'proxy-after-reset')
        (cookie,) = [c for c in context.cookies() if c['name'] == 'session']
        assert cookie['secure'] and cookie['httpOnly']
        assert cookie['sameSite'] == 'Lax'
    finally:
        context.close()


FORGED = [
    {'X-Forwarded-Proto': 'http'},
    {'X-Forwarded-Host': 'evil.example'},
    {'Forwarded': 'for=203.0.113.9;host=evil.example;proto=http'},
    {'X-Forwarded-Proto': 'http', 'X-Forwarded-Host': 'evil.example',
     'X-Forwarded-Port': '80', 'X-Forwarded-For': '203.0.113.9'},
]


@pytest.mark.parametrize('forged', FORGED,
                         ids=['proto', 'host', 'forwarded', 'all'])
def test_forwarded_headers_from_a_client_are_not_believed(proxy, tls,
                                                          forged):
    status, headers, body = https(proxy, tls, 'GET', '/', forged)
    assert status == 200
    page = body.decode()
    assert 'evil.example' not in page and 'http://' not in page
    cookie = headers['Set-Cookie'].split(';')[0]
    token = re.search(r'name="csrf_token" value="(\w+)"', page).group(1)
    status, headers, body = https(
        proxy, tls, 'POST', '/reset', dict(forged, **{
            'Cookie': cookie,
            'Content-Type': 'application/x-www-form-urlencoded',
            'Origin': 'https://localhost:%d' % proxy.port}),
        'csrf_token=' + token)
    assert status == 303
    assert headers['Location'] == 'https://localhost:%d/' % proxy.port


def slow_clients(port, count, wrap=None):
    """``count`` connections that send part of their headers and never
    the rest; the open sockets."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.create_connection(('127.0.0.1', port), 5)
            sockets.append(s)
            if wrap:
                s = wrap(s)
                sockets[-1] = s
            s.sendall(b'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ')
    except BaseException:
        for s in sockets:
            s.close()
        raise
    return sockets


def visitor_wait(get):
    """How long a visitor waited for a page, and its status (None when
    there was no answer in 5 s)."""
    started = time.monotonic()
    try:
        status = get()
    except (OSError, http.client.HTTPException):
        status = None
    return status, time.monotonic() - started


def test_slow_clients_are_held_by_the_proxy(app, proxy, tls, capsys):
    held = slow_clients(proxy.port, 200, lambda s: tls.wrap_socket(
        s, server_hostname='localhost'))
    try:
        status, through = visitor_wait(
            lambda: https(proxy, tls, 'GET', '/')[0])
    finally:
        for s in held:
            s.close()
    # the same, straight to the server: its own nginx holds them too,
    # and the workers never see a request until it is whole
    held = slow_clients(app.port, 200)
    try:
        direct_status, direct = visitor_wait(lambda: app_get(app))
    finally:
        for s in held:
            s.close()
    assert status == 200
    assert direct_status == 200
    with capsys.disabled():
        print('\n  200 slow clients: through nginx a page in %.4f s; '
              'straight to the server in %.4f s' % (through, direct))


def app_get(app):
    connection = http.client.HTTPConnection('127.0.0.1', app.port,
                                            timeout=5)
    try:
        connection.request('GET', '/')
        return connection.getresponse().status
    finally:
        connection.close()


def post_large(sock, size, chunked=False):
    """POST ``size`` bytes of form to /reset on ``sock`` (with a length,
    or ``chunked``), until the server answers or hangs up; its status
    (None if it hung up without one), the seconds it took, and the bytes
    of body sent."""
    started = time.monotonic()
    framing = b'Transfer-Encoding: chunked' if chunked \
        else b'Content-Length: %d' % size
    sock.sendall(b'POST /reset HTTP/1.1\r\nHost: localhost\r\n'
                 b'Content-Type: application/x-www-form-urlencoded\r\n'
                 b'%s\r\nConnection: close\r\n\r\n' % framing)
    chunk, sent = b'a' * 65536, 0
    if chunked:
        chunk = b'%x\r\n%s\r\n' % (len(chunk), chunk)
    try:
        while sent < size:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer came before the body was all sent
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass
    sock.settimeout(10)
    answer = b''
    try:
        while b'\r\n' not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    except (ConnectionResetError, ssl.SSLError):
        pass
    status = int(answer.split()[1]) if answer.startswith(b'HTTP/') \
        else None
    return status, time.monotonic() - started, sent


def test_a_huge_body_is_refused_by_the_proxy_and_by_the_server(
        app, proxy, tls, capsys):
    before = group_rss_kb(app.process.pid)
    with socket.create_connection(('127.0.0.1', proxy.port), 5) as raw:
        with tls.wrap_socket(raw, server_hostname='localhost') as s:
            proxied = post_large(s, LARGE_BODY)
    with socket.create_connection(('127.0.0.1', app.port), 5) as s:
        direct = post_large(s, LARGE_BODY)
    with socket.create_connection(('127.0.0.1', app.port), 5) as s:
        chunked = post_large(s, LARGE_BODY, chunked=True)
    after = group_rss_kb(app.process.pid)
    assert proxied[0] == 413, proxied
    # straight, the server's nginx answers 413 from the Content-Length,
    # or once the chunks pass the limit, and reads on a moment before it
    # closes (its lingering close), so that the answer is not lost
    assert direct[0] == 413, direct
    assert chunked[0] == 413, chunked
    # neither the proxy nor pserve's processes took the body in
    assert after - before < LARGE_BODY // 1024 // 10, (before, after)
    with capsys.disabled():
        print('\n  a 50 MB POST: through nginx %s in %.4f s (%d bytes sent); '
              'straight to the server %s in %.4f s (%d bytes sent); '
              'chunked %s in %.4f s (%d bytes sent); pserve\'s processes '
              '%d kB before, %d kB after'
              % (proxied + direct + chunked + (before, after)))
