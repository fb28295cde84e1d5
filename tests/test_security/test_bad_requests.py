"""Nothing a client sends gives a 500.

Careless and hostile clients send what WebOb cannot decode: bytes that are
not UTF-8 in the path, the query or a form, a form in another charset or
with broken multipart framing, cookies with escapes that unquote to such
bytes. Each gets a short 400 page, or (a stray cookie) is passed over, and
the visitor's session is kept.
"""
import json

import pytest
import webtest
from hypothesis import HealthCheck, given, settings, strategies as st
from webob import Request
from webob.cookies import parse_cookie

from tutorial.security.request_guard import (
    PARSED_COOKIES,
    read_cookies,
    webob_can_read,
    )

from tests.support.bad_input import (
    BAD_FORMS,
    BAD_PATHS,
    BAD_QUERIES,
    STRAY_COOKIES,
    )
from tests.support.cookies import (
    count_on,
    forge_cookie,
    https_client,
    session_in,
    )


def visitor(app, cookie=None):
    """A client with no cookie jar: WebTest's jar cannot hold requests
    for paths that are not UTF-8, so the cookie goes in by hand."""
    client = webtest.TestApp(app)
    if cookie:
        client.extra_environ['HTTP_COOKIE'] = cookie
    return client


def assert_refused(response):
    assert response.status_int == 400
    assert response.content_type == 'text/html'
    assert 'This request could not be understood' in response.text
    assert 'Traceback' not in response.text


@pytest.fixture(params=['development.ini', 'production.ini'])
def any_app(request, app_from_ini):
    """The app as each ini file builds it."""
    return app_from_ini(request.param)


@pytest.mark.parametrize('path', BAD_PATHS + BAD_QUERIES)
def test_a_path_or_query_that_is_not_utf8_gets_a_400_page(any_app, path):
    assert_refused(visitor(any_app).get(path, expect_errors=True))


@pytest.mark.parametrize('content_type, body', BAD_FORMS,
                         ids=[ct or 'no-type' for ct, _ in BAD_FORMS])
def test_a_form_that_cannot_be_read_gets_a_400_page(any_app, content_type,
                                                    body):
    client = visitor(any_app)
    client.get('/')
    response = client.post('/reset', body, expect_errors=True,
                           headers={'Content-Type': content_type})
    assert_refused(response)


def test_a_refused_request_is_logged_in_one_line(app, caplog):
    visitor(app).get('/%ff', expect_errors=True)
    (record,) = [r for r in caplog.records
                 if r.name == 'tutorial.security.request_guard']
    assert '\n' not in record.getMessage()
    assert 'the path is not UTF-8' in record.getMessage()


@pytest.mark.parametrize('stray', STRAY_COOKIES)
def test_a_stray_undecodable_cookie_costs_the_visitor_nothing(any_app, stray):
    # a page on a sibling subdomain set a cookie WebOb cannot decode
    page = visitor(any_app).get('/')
    session = page.headers['Set-Cookie'].split(';')[0]
    for cookie in ('%s; %s' % (stray, session), '%s; %s' % (session, stray)):
        page = visitor(any_app, cookie).get('/howdy', status=200)
        # the count goes on from the session beside the stray cookie
        assert count_on(page.text) == 2


def test_the_form_still_works_beside_a_stray_cookie(app):
    client = webtest.TestApp(app)
    page = client.get('/')
    token = page.forms[0]['csrf_token'].value
    cookie = 'a=\\377; session=%s' % client.cookies['session']
    response = visitor(app, cookie).post('/reset', {'csrf_token': token},
                                         status=303)
    assert response.location.endswith('/')


# Session values the checking serializer once let through.

def test_a_session_time_too_large_for_a_float_starts_a_new_session(testapp):
    huge = 10 ** 309
    testapp.set_cookie('session', forge_cookie(
        b'[%d, %d, {"counter": 5}]' % (huge, huge)))
    assert count_on(testapp.get('/', status=200).text) == 1


@pytest.mark.parametrize('path, status', [('/', 200), ('/nowhere', 404)])
def test_wide_flash_messages_never_make_a_cookie_too_large(testapp, path,
                                                           status):
    # three messages of 200 characters each fit a limit on characters, but
    # not the cookie once JSON writes each character as \uXXXX
    wide = ['\u00e9\u4e2d\U0001f600' * 66] * 3
    testapp.set_cookie('session', forge_cookie({'counter': 1, '_f_': wide}))
    response = testapp.get(path, status=status)
    assert 'Set-Cookie' not in response.headers \
        or len(response.headers['Set-Cookie']) < 4096


def test_wide_flash_messages_never_break_the_refusal_page(testapp):
    wide = ['\u00e9' * 199] * 3
    testapp.set_cookie('session', forge_cookie(
        {'counter': 1, '_f_': wide, '_csrft_': 'a' * 40}))
    response = testapp.post('/reset', {'csrf_token': 'b' * 40}, status=400)
    assert len(response.headers.get('Set-Cookie', '')) < 4096


def test_short_non_ascii_flash_messages_are_kept(testapp):
    messages = ['Zurückgesetzt.', '已重置。']
    testapp.set_cookie('session', forge_cookie({'_f_': messages}))
    page = testapp.get('/')
    shown = [p.text for p in page.html.find_all(attrs={'role': 'status'})]
    assert shown == messages


# The same, thrown wide: generated requests of every kind.

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
numbers = st.integers() | st.floats() | st.integers(min_value=10 ** 300)
session_payloads = st.one_of(
    # the envelope with any times and a state of any shape
    st.tuples(numbers, numbers, json_values).map(list),
    # the envelope with plausible times and the app's keys holding junk
    st.fixed_dictionaries({}, optional={
        'counter': json_values | numbers,
        '_f_': st.lists(st.text(max_size=700), max_size=6) | json_values,
        '_csrft_': json_values,
    }),
    json_values,
)
cookie_octets = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xff,
                  exclude_characters=';'),
    max_size=30)
cookie_names = st.from_regex(r'[A-Za-z0-9_.-]{1,8}', fullmatch=True)
stray_cookies = st.builds('{}={}'.format, cookie_names, cookie_octets)
# Cookie headers as browsers send them, and headers of every other kind:
# odd names (attribute names, '$'), quotes, escapes, bytes over 0x7f,
# other separators.
plain_names = cookie_names | st.sampled_from(
    ['session', 'Path', 'max-age', 'SECURE', 'samesite', 'expiresX'])
plain_values = st.from_regex(r'[A-Za-z0-9_.=-]{0,30}', fullmatch=True)
plain_headers = st.lists(
    st.builds('{}={}'.format, plain_names, plain_values), min_size=1,
    max_size=4).flatmap(
        lambda cookies: st.sampled_from(['; ', ';']).map(
            lambda separator: separator.join(cookies)))
any_names = plain_names | st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xff), max_size=6)
any_values = plain_values | cookie_octets | st.builds(
    '"{}"'.format, st.text(st.characters(min_codepoint=0x20,
                                         max_codepoint=0xff), max_size=12))
any_headers = st.lists(
    st.builds('{}{}{}'.format, any_names, st.sampled_from(['=', ' = ', '']),
              any_values), max_size=4).flatmap(
        lambda cookies: st.sampled_from(['; ', ';', ', ', ' ']).map(
            lambda separator: separator.join(cookies)))
url_bytes = st.binary(max_size=20).map(
    lambda b: ''.join('%%%02X' % c for c in b))
paths = st.one_of(st.sampled_from(['/', '/howdy', '/reset', '/nowhere']),
                  st.builds('/{}'.format, url_bytes))
queries = st.builds('{}={}'.format, url_bytes, url_bytes) | st.just('')
form_types = st.sampled_from([
    'application/x-www-form-urlencoded', 'multipart/form-data',
    'multipart/form-data; boundary=x', 'text/plain', '',
    'application/x-www-form-urlencoded; charset=latin-1',
])

EXAMPLES = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def assert_answered(response):
    """Below 500, no traceback, and a cookie a browser keeps."""
    assert response.status_int < 500, response.status
    assert 'Traceback' not in response.text
    for cookie in response.headers.getall('Set-Cookie'):
        assert len(cookie) < 4096


@EXAMPLES
@given(payload=session_payloads)
def test_any_signed_session_payload_gets_a_page(app, payload):
    if isinstance(payload, dict):
        payload = [1.7e9, 1.7e9, payload]
    cookie = forge_cookie(json.dumps(payload).encode('utf-8'))
    client = visitor(app, 'session=' + cookie)
    assert_answered(client.get('/', expect_errors=True))
    assert_answered(client.get('/nowhere', expect_errors=True))
    assert_answered(client.post('/reset', {'csrf_token': 'x'},
                                expect_errors=True))


@EXAMPLES
@given(strays=st.lists(stray_cookies, max_size=3), before=st.booleans())
def test_any_stray_cookie_beside_a_session_keeps_the_count(app, strays,
                                                           before):
    session = 'session=' + forge_cookie({'counter': 41})
    # a stray cookie of the same name as the session's would replace it
    strays = [s for s in strays if not s.startswith('session=')]
    cookies = strays + [session] if before else [session] + strays
    response = visitor(app, '; '.join(cookies)).get('/', expect_errors=True)
    assert_answered(response)
    assert count_on(response.text) == 42
    (set_cookie,) = response.headers.getall('Set-Cookie')
    assert session_in(set_cookie.split(';')[0][len('session='):])[
        'counter'] == 42


@EXAMPLES
@given(path=paths, query=queries, content_type=form_types,
       body=st.binary(max_size=200), method=st.sampled_from(['GET', 'POST']))
def test_any_path_query_and_body_gets_an_answer_below_500(
        app, path, query, content_type, body, method):
    client = visitor(app)
    url = path + ('?' + query if query else '')
    if method == 'GET':
        response = client.get(url, expect_errors=True)
    else:
        response = client.post(url, body, expect_errors=True,
                               headers={'Content-Type': content_type})
    assert_answered(response)


def webob_cookies(header):
    """What WebOb's own request reads from a Cookie header, or None when
    it cannot decode one of the cookies (it raises)."""
    try:
        return dict(Request.blank('/', headers={'Cookie': header}).cookies)
    except UnicodeError:
        return None


def test_webob_reads_the_cookies_the_guard_hands_it():
    # the guard leaves its reading where WebOb keeps what it parsed (a
    # private name of WebOb's): WebOb must take it from there, not parse
    # the header again
    header = 'session=abc; other=1'
    request = Request.blank('/', headers={'Cookie': header})
    request.environ[PARSED_COOKIES] = ({'session': 'from-the-guard'}, header)
    assert dict(request.cookies) == {'session': 'from-the-guard'}


@EXAMPLES
@given(header=plain_headers | any_headers)
def test_webob_reads_each_header_the_guard_leaves_to_it(header):
    # the guard parses only the headers WebOb could not decode whole
    if webob_can_read(header):
        assert webob_cookies(header) is not None


def test_the_guard_parses_the_headers_webob_cannot_read():
    assert not webob_can_read('session=abc; stray="\\377"')
    assert not webob_can_read('session=abc; stray=\xe9')
    assert webob_can_read('session=abc; name=\xc3\xa9')


@EXAMPLES
@given(header=any_headers)
def test_any_cookie_header_is_read_as_webob_reads_it(header):
    cookies = read_cookies(header)
    expected = webob_cookies(header)
    if expected is not None:
        assert cookies == expected
    else:
        # the ones WebOb could not decode are left out; the rest are read
        assert len(cookies) < len(list(parse_cookie(header)))
        assert all(isinstance(name, str) and isinstance(value, str)
                   for name, value in cookies.items())


@EXAMPLES
@given(header=any_headers)
def test_any_cookie_header_gets_a_page(app, header):
    response = visitor(app, header).get('/', expect_errors=True)
    assert_answered(response)
    assert response.status_int == 200


class CountingInput:
    """A request body of ``size`` bytes that counts what is read of it."""

    def __init__(self, size, content=b'a'):
        self.left = size
        self.content = content
        self.read_bytes = 0

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        self.read_bytes += n
        return (self.content * (n // len(self.content) + 1))[:n]


def chunked_post(app, body, cookie=None):
    """POST /reset with ``body`` and no Content-Length, as a server hands
    on a chunked body; the response."""
    request = Request.blank('/reset', method='POST')
    request.environ.update({
        'wsgi.input': body, 'wsgi.input_terminated': True,
        'CONTENT_TYPE': 'application/x-www-form-urlencoded'})
    request.environ.pop('CONTENT_LENGTH', None)
    if cookie:
        request.environ['HTTP_COOKIE'] = cookie
    return request.get_response(app)


def test_a_form_larger_than_the_limit_gets_a_413_page(any_app):
    client = https_client(any_app)
    page = client.get('/')
    token = page.forms[0]['csrf_token'].value
    body = ('csrf_token=%s&padding=%s' % (token, 'x' * 20000)).encode()
    response = client.post('/reset', body, expect_errors=True, headers={
        'Content-Type': 'application/x-www-form-urlencoded'})
    assert response.status_int == 413
    assert 'This request was too large' in response.text
    # nothing was changed: the count goes on
    assert count_on(client.get('/').text) == 2


def test_a_chunked_body_is_read_no_further_than_the_limit(app):
    # no Content-Length: the guard reads one byte past the limit, no more
    body = CountingInput(50 * 1024 * 1024)
    response = chunked_post(app, body)
    assert response.status_int == 413
    assert body.read_bytes == 16384 + 1


def test_a_small_chunked_form_is_read_as_usual(app):
    client = visitor(app)
    page = client.get('/')
    form = ('csrf_token=%s' % page.forms[0]['csrf_token'].value).encode()
    cookie = 'session=' + client.cookies['session']
    response = chunked_post(app, CountingInput(len(form), form), cookie)
    assert response.status_int == 303


@pytest.mark.parametrize('size', ['sixteen', '-1', '1.5'])
def test_a_bad_body_limit_is_refused_in_one_line(size):
    from tutorial import main

    with pytest.raises(SystemExit) as refusal:
        main({}, **{'tutorial.max_body_size': size})
    assert 'tutorial.max_body_size' in str(refusal.value.code)
