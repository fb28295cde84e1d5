"""The encrypted cookie store: the step's session, readable by no one else.

TUTORIAL_SESSION_STORE=encrypted keeps the session in the cookie, encrypted
and authenticated under a key derived from the session secret. The count,
the form and its message behave as with the signed cookie; the cookie
shows nothing, and anything but a cookie the server made starts afresh.
"""
import base64
import json
import re
import time

import pytest
import webtest
from hypothesis import HealthCheck, given, settings, strategies as st

from tutorial.pages.flash import RESET_MESSAGE
from tutorial.pages.flash import MAX_FLASH_BYTES
from tutorial.sessions.data import CSRF_KEY, FLASH_KEY
from tutorial.sessions.encrypted import (
    NONCE_SIZE,
    SessionCipher,
    encryption_key,
    )
from tutorial.sessions.cookie import SESSION_SALT, SessionSigner
from tutorial.sessions.secrets import DEVELOPMENT_SECRET
from tutorial.sessions.stores import STORE_ENV

from tests.support.cookies import (
    PRODUCTION_SECRET,
    Raw,
    count_on,
    forge_cookie,
    https_client,
    )


ENCRYPTED = {STORE_ENV: 'encrypted'}


@pytest.fixture(params=['development.ini', 'production.ini'])
def client(request, app_from_ini):
    """A browser of the encrypted store, under each ini file (over https,
    where production's Secure cookie is sent)."""
    return https_client(app_from_ini(request.param, **ENCRYPTED))


@pytest.fixture
def app(app_from_ini):
    return app_from_ini('development.ini', **ENCRYPTED)


def first_visit(app):
    """A new visitor's first page, and the cookie it sets."""
    client = webtest.TestApp(app)
    page = client.get('/')
    return client, page, client.cookies['session']


def visit_with(app, cookie):
    """One page with ``cookie`` as the session cookie; fails on a 5xx."""
    client = webtest.TestApp(app)
    client.set_cookie('session', cookie)
    return client.get('/', status=200)


def test_the_count_rises_and_reset_shows_its_message_once(client):
    counts = [count_on(client.get(path).text)
              for path in ('/', '/howdy', '/')]
    assert counts == [1, 2, 3]
    after = client.get('/').forms[0].submit(status=303).follow()
    assert RESET_MESSAGE in after.text
    assert count_on(after.text) == 1
    again = client.get('/howdy')
    assert RESET_MESSAGE not in again.text
    assert count_on(again.text) == 2


def base64_readings(cookie):
    """Every way the cookie decodes as base64, from each starting point and
    in either alphabet."""
    readings = []
    for start in range(4):
        part = cookie[start:]
        part += '=' * (-len(part) % 4)
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                readings.append(decode(part))
            except ValueError:
                pass
    return readings


def test_the_cookie_reveals_nothing(app):
    client, page, cookie = first_visit(app)
    page = client.get('/howdy')  # a cookie that has been read and rewritten
    cookie = client.cookies['session']
    token = page.forms[0]['csrf_token'].value
    assert re.fullmatch(r'[0-9a-f]{40}', token)
    readings = base64_readings(cookie)
    assert readings, 'the cookie should be base64'
    for secret in (b'counter', CSRF_KEY.encode(), token.encode()):
        assert secret.decode() not in cookie
        assert not any(secret in reading for reading in readings)
    # the control: the same reading finds all three in the signed store's
    signed = forge_cookie({'counter': 2, CSRF_KEY: token})
    assert any(b'counter' in r and token.encode() in r
               for r in base64_readings(signed))


def changed_one_character(cookie):
    swap = 'A' if cookie[20] != 'A' else 'B'
    return cookie[:20] + swap + cookie[21:]


#: URL-safe base64's alphabet, in the order of the six bits each stands for.
URLSAFE = ('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
           '0123456789-_')


def changed_last_character(cookie):
    # the last character's highest bit is always one of the data's (its
    # lowest bits may be padding, which decodes to the same bytes)
    return cookie[:-1] + URLSAFE[URLSAFE.index(cookie[-1]) ^ 32]


BAD_COOKIES = {
    'one character changed': changed_one_character,
    'the last character changed': changed_last_character,
    'cut short': lambda c: c[:len(c) // 2],
    'cut to the nonce': lambda c: c[:16],
    'one character less': lambda c: c[:-1],
    'a signed-store cookie': lambda c: forge_cookie({'counter': 5}),
    'empty': lambda c: '',
    'not base64': lambda c: '!!' + c,
}


@pytest.mark.parametrize('spoil', BAD_COOKIES.values(), ids=BAD_COOKIES)
def test_a_cookie_the_server_did_not_make_starts_a_new_session(app, spoil):
    client, page, cookie = first_visit(app)
    client.get('/')
    cookie = client.cookies['session']
    assert count_on(visit_with(app, cookie).text) == 3  # the control
    assert count_on(visit_with(app, spoil(cookie)).text) == 1


#: What a cookie's value may hold, as WebOb reads it.
cookie_values = st.text(
    alphabet=st.characters(codec='ascii', exclude_characters=';, \\"'),
    max_size=600)


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=cookie_values | st.binary(max_size=400).map(
    lambda b: base64.urlsafe_b64encode(b).decode().rstrip('=')))
def test_any_cookie_value_gets_a_page_with_a_new_count(app, value):
    assert count_on(visit_with(app, value).text) == 1


def test_a_full_flash_queue_still_makes_a_cookie_a_browser_keeps(app):
    # the development secret is public, so anyone can encrypt a session
    # for it: the fullest one the app keeps, and far more
    widest = '\u00e9' * ((MAX_FLASH_BYTES - 2) // 6)  # six bytes each
    assert len(json.dumps(widest)) <= MAX_FLASH_BYTES
    cipher = SessionCipher(DEVELOPMENT_SECRET)
    now = time.time()
    cookie = cipher.dumps((now, now, {
        'counter': 2 ** 53 - 2, CSRF_KEY: 'a' * 64,
        FLASH_KEY: [widest + str(n) for n in range(1000)]})).decode()
    client = webtest.TestApp(app)
    client.set_cookie('session', cookie)
    page = client.get('/', status=200)
    set_cookie = page.headers['Set-Cookie']
    assert len(set_cookie) < 4096
    assert len(page.html.find_all(attrs={'role': 'status'})) == 3


def test_every_cookie_has_a_fresh_nonce():
    cipher = SessionCipher(PRODUCTION_SECRET, serializer=Raw())
    nonces = {base64.urlsafe_b64decode(
        cipher.dumps(b'the same session') + b'==')[:NONCE_SIZE]
        for _ in range(10_000)}
    assert len(nonces) == 10_000


def test_the_same_session_gives_a_different_cookie_each_time():
    cipher = SessionCipher(PRODUCTION_SECRET, serializer=Raw())
    first, second = cipher.dumps(b'[1,1,{}]'), cipher.dumps(b'[1,1,{}]')
    assert first != second
    assert cipher.loads(first) == cipher.loads(second) == b'[1,1,{}]'


def test_the_encryption_key_is_never_a_signing_key():
    key = encryption_key(PRODUCTION_SECRET)
    signing = (SESSION_SALT + PRODUCTION_SECRET).encode()
    assert len(key) == 32
    assert key not in signing and key != PRODUCTION_SECRET.encode()[:32]
    assert key != encryption_key(PRODUCTION_SECRET[::-1])


OLD = 'the-old-secret-0123456789abcdef-' * 2
NEW = 'the-new-secret-fedcba9876543210-' * 2


def test_what_an_old_secret_encrypted_is_read_and_encrypted_again():
    from_old = SessionCipher(OLD, serializer=Raw()).dumps(b'payload')
    rotating = SessionCipher(NEW, [OLD], serializer=Raw())
    assert rotating.loads(from_old) == b'payload'
    again = rotating.dumps(rotating.loads(from_old))
    assert SessionCipher(NEW, serializer=Raw()).loads(again) == b'payload'
    with pytest.raises(ValueError):
        SessionCipher(OLD, serializer=Raw()).loads(again)
    # nor does a signer of either secret take it for a signed cookie
    for secret in (OLD, NEW):
        with pytest.raises(ValueError):
            SessionSigner(secret, serializer=Raw()).loads(again)
