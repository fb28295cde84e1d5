"""What a deployed site sends, and which hosts it answers for.

Every answer carries the security headers, pages that show a session are
never kept by a shared cache, and a request for a host the app does not
serve is refused before its Host header can come back in a page or a
redirect.
"""
import pytest
import webtest

from tutorial.security.request_guard import ALLOWED_HOSTS_ENV

from tests.support.cookies import forge_cookie


ONE_YEAR = 365 * 24 * 3600


@pytest.fixture(params=['development.ini', 'production.ini'])
def client(request, app_from_ini):
    return webtest.TestApp(app_from_ini(request.param))


@pytest.fixture
def production(app_from_ini):
    return webtest.TestApp(app_from_ini('production.ini'))


def first_visit(client):
    """The session cookie (to send by hand: production's is Secure, which
    WebTest keeps to HTTPS) and the form's token a first visit gets."""
    page = client.get('/')
    cookie = page.headers['Set-Cookie'].split(';')[0]
    token = page.html.find('input', attrs={'name': 'csrf_token'})['value']
    return page, cookie, token


def every_kind_of_answer(client):
    """One of each answer the app gives."""
    page, cookie, token = first_visit(client)
    with_cookie = {'Cookie': cookie}
    return {
        'home': page,
        'howdy': client.get('/howdy', headers=with_cookie),
        'redirect after reset': client.post(
            '/reset', {'csrf_token': token}, headers=with_cookie,
            status=303),
        'refused form': client.post('/reset', {'csrf_token': 'x'},
                                    headers=with_cookie, status=400),
        # (WebTest's cookie jar cannot hold a path that is not UTF-8)
        'request not understood': webtest.TestApp(client.app).get(
            '/%ff', status=400),
        'unknown host': client.get(
            '/', headers={'Host': 'evil.example'}, status=400),
        'not found': client.get('/nowhere', status=404),
        'stylesheet': client.get('/static/tutorial.css'),
        'icon': client.get('/favicon.ico'),
    }


def test_every_answer_carries_the_security_headers(client):
    for name, response in every_kind_of_answer(client).items():
        headers = response.headers
        csp = headers.get('Content-Security-Policy', '')
        assert "frame-ancestors 'none'" in csp, name
        assert headers['X-Frame-Options'] == 'DENY', name
        assert headers['X-Content-Type-Options'] == 'nosniff', name
        assert headers['Referrer-Policy'] == 'same-origin', name


def test_pages_that_show_a_session_are_never_kept_by_a_shared_cache(client):
    for name, response in every_kind_of_answer(client).items():
        if name in ('stylesheet', 'icon'):
            continue
        assert response.headers['Cache-Control'] == 'private, no-store', name
        assert 'Cookie' in response.headers['Vary'], name


def test_the_stylesheet_and_icon_may_be_cached(client):
    answers = every_kind_of_answer(client)
    for name in ('stylesheet', 'icon'):
        assert answers[name].headers['Cache-Control'] == 'max-age=3600'
        assert 'Set-Cookie' not in answers[name].headers


def test_production_policy_is_strict_and_https_only(production):
    headers = production.get('/').headers
    directives = dict(
        (part.split()[0], part.split()[1:])
        for part in headers['Content-Security-Policy'].split(';'))
    assert directives['default-src'] == ["'self'"]
    assert "'unsafe-inline'" not in headers['Content-Security-Policy']
    assert '*' not in headers['Content-Security-Policy']
    assert directives['frame-ancestors'] == ["'none'"]
    hsts = headers['Strict-Transport-Security']
    assert int(hsts.split('max-age=')[1].split(';')[0]) >= ONE_YEAR


def test_the_pages_have_no_inline_style_or_script(production):
    # what production's policy would block
    for path in ('/', '/nowhere'):
        text = production.get(path, expect_errors=True).text
        assert 'style=' not in text and '<script' not in text


def test_development_relaxes_only_what_the_toolbar_needs(app_from_ini):
    client = webtest.TestApp(app_from_ini('development.ini'))
    csp = client.get('/').headers['Content-Security-Policy']
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert 'Strict-Transport-Security' not in client.get('/').headers


@pytest.mark.parametrize('host', [
    'evil.example', 'evil.example:6543', 'localhost.evil.example',
    '127.0.0.1.evil.example', '[::2]:6543', '', 'localhost:6543@evil',
])
def test_a_host_the_app_does_not_serve_gets_a_400_page(client, host):
    response = client.get('/', headers={'Host': host}, status=400)
    assert 'This site is not served at that address' in response.text
    assert 'evil' not in response.text
    assert 'Set-Cookie' not in response.headers
    assert 'Location' not in response.headers


@pytest.mark.parametrize('host', [
    'localhost', 'localhost:6543', 'LOCALHOST:6543', '127.0.0.1:6543',
    '[::1]:6543', 'localhost.',
])
def test_the_hosts_it_serves_get_the_page(client, host):
    client.get('/', headers={'Host': host}, status=200)


def test_a_forged_host_cannot_reach_the_redirect(client):
    _, cookie, token = first_visit(client)
    response = client.post('/reset', {'csrf_token': token}, status=400,
                           headers={'Cookie': cookie, 'Host': 'evil.example'})
    assert 'evil' not in str(response.headers) + response.text


def test_the_form_posts_to_a_relative_address(client):
    form = client.get('/').html.find('form')
    assert form['action'] == '/reset'


def test_the_environment_names_the_deployed_hosts(app_from_ini):
    client = webtest.TestApp(app_from_ini('production.ini', **{
        ALLOWED_HOSTS_ENV: 'tutorial.example.org  .example.net'}))
    for host in ('tutorial.example.org', 'example.net', 'www.example.net',
                 'localhost'):
        client.get('/', headers={'Host': host}, status=200)
    for host in ('example.org', 'evil-example.net', 'example.net.evil'):
        client.get('/', headers={'Host': host}, status=400)


def test_a_session_cookie_beside_a_bad_host_is_not_touched(client):
    # nothing past the host check runs: no session read, none written
    cookie = 'session=' + forge_cookie({'counter': 5})
    response = client.get('/', status=400, headers={
        'Host': 'evil.example', 'Cookie': cookie})
    assert 'Set-Cookie' not in response.headers
