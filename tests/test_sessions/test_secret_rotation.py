"""Changing the session secret without logging anyone out, and weak secrets.

TUTORIAL_SESSION_SECRET signs; TUTORIAL_SESSION_OLD_SECRETS are read,
never signed with. A cookie only an old secret verifies is read, and the
response carries it signed again with the current secret.
"""
import secrets

import pytest
import webtest

from tutorial import main
from tutorial.sessions.encrypted import SessionCipher
from tutorial.sessions.cookie import SessionSigner
from tutorial.sessions.secrets import (
    DEVELOPMENT_SECRET,
    OLD_SECRETS_ENV,
    SECRET_ENV,
    old_session_secrets,
    session_secret,
    )
from tutorial.sessions.stores import STORE_ENV

from tests.support.cookies import Raw, count_on, forge_cookie
from tests.support.servers import Server, run_pserve


OLD = 'the-old-secret-0123456789abcdef-' * 2
NEW = 'the-new-secret-fedcba9876543210-' * 2
PRODUCTION = {'tutorial.secret_from_env': 'true'}


def signed_by(cookie, secret, salt='pyramid.session.'):
    """Whether ``secret`` made the signature on ``cookie``."""
    try:
        SessionSigner(secret, salt=salt, serializer=Raw()).loads(
            cookie.encode('ascii'))
    except ValueError:
        return False
    return True


# The signer on its own.

def test_the_signer_signs_with_the_current_secret_only():
    signer = SessionSigner(NEW, [OLD], serializer=Raw())
    cookie = signer.dumps(b'payload').decode('ascii')
    assert signed_by(cookie, NEW) and not signed_by(cookie, OLD)


def test_the_signer_reads_what_an_old_secret_signed():
    from_old = SessionSigner(OLD, serializer=Raw()).dumps(b'payload')
    signer = SessionSigner(NEW, [OLD], serializer=Raw())
    assert signer.loads_with(from_old) == (b'payload', True)
    assert signer.loads_with(signer.dumps(b'payload')) == (b'payload', False)
    with pytest.raises(ValueError):
        SessionSigner(NEW, serializer=Raw()).loads(from_old)


# The app, in process: the cookie store and the Redis store.

@pytest.fixture
def build(monkeypatch):
    """Builds the production app with the secrets named."""
    def build(secret, old=(), **settings):
        monkeypatch.setenv(SECRET_ENV, secret)
        monkeypatch.setenv(OLD_SECRETS_ENV, ' '.join(old))
        return webtest.TestApp(main({}, **dict(PRODUCTION, **settings)))
    return build


def visit(app, cookie=None):
    """A page view with ``cookie``; the count and the cookie to keep."""
    headers = {'Cookie': 'session=' + cookie} if cookie else {}
    page = app.get('/', headers=headers)
    set_cookie = page.headers.get('Set-Cookie')
    return count_on(page.text), (
        set_cookie.split(';')[0][len('session='):] if set_cookie else cookie)


def test_a_cookie_from_the_old_secret_is_read_and_signed_again(build):
    count, cookie = visit(build(OLD))
    count, cookie = visit(build(OLD), cookie)
    assert count == 2 and signed_by(cookie, OLD)

    count, cookie = visit(build(NEW, [OLD]), cookie)
    assert count == 3
    assert signed_by(cookie, NEW) and not signed_by(cookie, OLD)

    # once the old secret is dropped, the re-signed cookie still counts...
    assert visit(build(NEW), cookie)[0] == 4


def test_a_cookie_signed_only_by_a_dropped_secret_starts_again(build):
    cookie = visit(build(OLD))[1]
    assert visit(build(NEW), cookie)[0] == 1


def test_over_redis_the_cookie_is_signed_again_and_the_key_moves(
        build, redis_server, redis, monkeypatch):
    monkeypatch.setenv('TUTORIAL_REDIS_URL', redis_server.url)
    store = {'tutorial.session_store': 'redis'}
    salt = 'pyramid_session_redis.'
    count, cookie = visit(build(OLD, **store))
    (old_key,) = redis.keys('*')
    count, cookie = visit(build(NEW, [OLD], **store), cookie)
    assert count == 2
    assert signed_by(cookie, NEW, salt) and not signed_by(cookie, OLD, salt)
    # the session moved from the old secret's key to the new one's, once
    (new_key,) = redis.keys('*')
    assert new_key != old_key
    assert visit(build(NEW, **store), cookie)[0] == 3
    assert redis.keys('*') == [new_key]


# Weak secrets.

WEAK = [
    (' ' * 64, 'only 1 distinct characters'),
    ('a' * 64, 'only 1 distinct characters'),
    (DEVELOPMENT_SECRET * 6, 'only 7 distinct characters'),
    ('password' * 8, 'only 7 distinct characters'),
    ('0123456789' * 6, 'is 60 characters long'),
]


@pytest.mark.parametrize('secret, problem', WEAK,
                         ids=['spaces', 'one-character', 'tutorial-repeated',
                              'word-repeated', 'short'])
def test_a_weak_secret_is_refused_in_one_line(secret, problem):
    with pytest.raises(SystemExit) as refusal:
        session_secret(PRODUCTION, {SECRET_ENV: secret})
    message = str(refusal.value.code)
    assert message.startswith('tutorial: %s ' % SECRET_ENV)
    assert problem in message and '\n' not in message


@pytest.mark.parametrize('secret, problem', WEAK[1:3])
def test_each_old_secret_must_pass_the_same_checks(secret, problem):
    environ = {SECRET_ENV: NEW, OLD_SECRETS_ENV: OLD + ' ' + secret}
    with pytest.raises(SystemExit) as refusal:
        old_session_secrets(PRODUCTION, environ)
    message = str(refusal.value.code)
    assert message.startswith('tutorial: %s (secret 2 of 2) '
                              % OLD_SECRETS_ENV)
    assert problem in message


def test_what_the_readme_makes_always_passes():
    for _ in range(2000):
        secret = secrets.token_hex(32)
        assert session_secret(PRODUCTION, {SECRET_ENV: secret}) == secret


def test_pserve_refuses_a_weak_old_secret_in_one_line():
    code, output = run_pserve('production.ini', {
        SECRET_ENV: NEW, OLD_SECRETS_ENV: 'a' * 64})
    assert code not in (0, None)
    (line,) = output.strip().splitlines()
    assert line.startswith('tutorial: %s ' % OLD_SECRETS_ENV)


# The procedure docs/production.rst gives, through real processes.

def made_by(store, cookie, secret):
    """Whether ``secret`` signed (the cookie store) or encrypted (the
    encrypted store) ``cookie``."""
    if store == 'cookie':
        return signed_by(cookie, secret)
    try:
        SessionCipher(secret, serializer=Raw()).loads(cookie.encode('ascii'))
    except ValueError:
        return False
    return True


@pytest.mark.parametrize('store', ['cookie', 'encrypted'])
def test_two_processes_change_secret_one_at_a_time_and_lose_no_one(store):
    """Two `pserve production.ini` behind one address, restarted one at a
    time through the three steps, while a visitor alternates."""
    steps = [
        {SECRET_ENV: OLD},
        # 1: every process accepts the new secret, still signing with the old
        {SECRET_ENV: OLD, OLD_SECRETS_ENV: NEW},
        # 2: every process signs with the new and accepts the old
        {SECRET_ENV: NEW, OLD_SECRETS_ENV: OLD},
        # 3: the old one is dropped, once its sessions have expired
        {SECRET_ENV: NEW},
    ]
    for env in steps:
        env[STORE_ENV] = store
    servers = [Server('production.ini', env=steps[0]).start(),
               Server('production.ini', env=steps[0]).start()]
    counts, cookie, turn = [], None, 0

    def visit_next():
        nonlocal cookie, turn
        server = servers[turn % 2]
        turn += 1
        status, headers, body = server.get(
            '/', cookie='session=' + cookie if cookie else None)
        assert status == 200
        counts.append(count_on(body.decode()))
        cookie = headers['Set-Cookie'].split(';')[0][len('session='):]

    try:
        for _ in range(4):
            visit_next()
        cookie_from_the_old_secret = cookie
        assert made_by(store, cookie, OLD)
        for env in steps[1:]:
            for n in range(2):
                servers[n].__exit__(None, None, None)
                servers[n] = Server('production.ini', env=env,
                                    port=servers[n].port).start()
                for _ in range(3):
                    visit_next()
        # the count never went back
        assert counts == list(range(1, len(counts) + 1))
        # written again by the new secret: the old one alone cannot read it
        assert made_by(store, cookie, NEW) and not made_by(store, cookie, OLD)

        # a cookie made only with the dropped secret starts again at 1
        status, headers, body = servers[0].get(
            '/', cookie='session=' + cookie_from_the_old_secret)
        assert count_on(body.decode()) == 1
    finally:
        for server in servers:
            server.__exit__(None, None, None)


def test_forged_cookie_helper_matches_the_signer():
    # the tests' forging helper and the app's signer agree
    assert signed_by(forge_cookie({'counter': 1}), DEVELOPMENT_SECRET)
