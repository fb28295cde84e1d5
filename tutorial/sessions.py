"""Where the session comes from and what it may hold.

The step registers a SignedCookieSessionFactory with a secret written in
the code. Here the secret is a setting in development and comes from the
environment in production, where old secrets can still be read while a new
one signs, and everything a session brings back from the client is checked
before a view sees it.
"""
import base64
import hmac
import json
import os
import re

from pyramid.session import BaseCookieSessionFactory
from pyramid.settings import asbool
from webob.cookies import JSONSerializer, make_cookie

#: The printed tutorial's secret: public, so for development only.
DEVELOPMENT_SECRET = 'itsaseekreet'

#: Where production finds its secret, and the old ones it still reads.
SECRET_ENV = 'TUTORIAL_SESSION_SECRET'
OLD_SECRETS_ENV = 'TUTORIAL_SESSION_OLD_SECRETS'

#: Pyramid's advice for sha512 signatures: a secret of 64 bytes or more.
MIN_SECRET_LENGTH = 64
#: Fewer distinct characters than this is a pattern, not a secret: one
#: character repeated, whitespace, a word written over and over.
MIN_DISTINCT_CHARACTERS = 10

#: What to tell someone whose secret is refused.
MAKE_A_SECRET = (
    'make one with '
    '`python3 -c "import secrets; print(secrets.token_hex(32))"`')

SESSION_STORES = ('cookie', 'redis')

#: The largest counter kept; one past it starts the count again. It is the
#: largest integer a browser's JavaScript can hold exactly.
MAX_COUNTER = 2 ** 53 - 1

#: Bounds on the flash queue, so that posts whose redirect is never
#: followed cannot grow the session past what a cookie holds. A message
#: is measured as it sits in the cookie: as JSON, where a character that
#: is not ASCII takes six bytes (\uXXXX) or twelve.
MAX_FLASH_MESSAGES = 3
MAX_FLASH_BYTES = 600

#: A session's times are seconds since 1970; later than this is not one.
MAX_TIME = 2 ** 32

# The keys Pyramid's sessions keep their default flash queue and CSRF
# token under, and the tokens' shape: 40 hex digits from Pyramid's cookie
# session, 64 from pyramid_session_redis.
FLASH_KEY = '_f_'
CSRF_KEY = '_csrft_'
_CSRF_TOKEN = re.compile(r'[0-9a-f]{40,64}\Z')


def secret_problem(secret):
    """What makes ``secret`` unfit to sign sessions, or None."""
    if not secret:
        return 'is not set'
    if secret == DEVELOPMENT_SECRET:
        return "is the tutorial's public development secret"
    if len(secret) < MIN_SECRET_LENGTH:
        return 'is %d characters long; it needs at least %d' % (
            len(secret), MIN_SECRET_LENGTH)
    distinct = len(set(secret))
    if distinct < MIN_DISTINCT_CHARACTERS:
        return 'has only %d distinct characters; it needs at least %d' % (
            distinct, MIN_DISTINCT_CHARACTERS)
    return None


def _refuse(name, problem):
    raise SystemExit('tutorial: %s %s: %s' % (name, problem, MAKE_A_SECRET))


def session_secret(settings, environ=os.environ):
    """Return the secret that signs session cookies.

    With ``tutorial.secret_from_env`` true (production.ini) it is read from
    the environment variable TUTORIAL_SESSION_SECRET, and a missing, weak
    or public one stops the application with a one-line message.
    """
    if not asbool(settings.get('tutorial.secret_from_env', False)):
        return settings.get('tutorial.session_secret', DEVELOPMENT_SECRET)
    secret = environ.get(SECRET_ENV, '')
    problem = secret_problem(secret)
    if problem:
        _refuse(SECRET_ENV, problem)
    return secret


def old_session_secrets(settings, environ=os.environ):
    """Return the old secrets whose cookies are still read, never signed.

    In production they come from TUTORIAL_SESSION_OLD_SECRETS, separated
    by whitespace, and each must pass the same checks as the secret.
    """
    if not asbool(settings.get('tutorial.secret_from_env', False)):
        return []
    old = environ.get(OLD_SECRETS_ENV, '').split()
    for n, secret in enumerate(old, 1):
        problem = secret_problem(secret)
        if problem:
            _refuse('%s (secret %d of %d)' % (OLD_SECRETS_ENV, n, len(old)),
                    problem)
    return old


class SessionSigner:
    """Signs with the current secret; reads what any accepted one signed.

    Pyramid's SignedCookieSessionFactory(secret) is BaseCookieSessionFactory
    over WebOb's SignedSerializer of that one secret, so a new secret voids
    every session at once. This signer writes what that one writes (an
    HMAC-SHA512 of the payload, keyed with the salt and the secret, then
    the payload, in URL-safe base64), but also reads cookies signed with an
    old secret; the response then carries the cookie signed again with the
    current one. Nothing is ever signed with an old secret. Each secret's
    HMAC is keyed once, here, rather than on every request.
    """

    def __init__(self, secret, old_secrets=(), salt='pyramid.session.',
                 serializer=None):
        self.serializer = serializer or JSONSerializer()
        self.hmacs = [hmac.new(_signing_key(salt, s), digestmod='sha512')
                      for s in [secret, *old_secrets]]

    def dumps(self, appstruct):
        payload = self.serializer.dumps(appstruct)
        return base64.urlsafe_b64encode(
            _sign(self.hmacs[0], payload) + payload).rstrip(b'=')

    def loads(self, bstruct):
        return self.loads_with(bstruct)[0]

    def loads_with(self, bstruct):
        """Return what ``bstruct`` holds, and whether an old secret had to
        read it; ValueError if no accepted secret signed it."""
        try:
            signed = base64.urlsafe_b64decode(
                bstruct + b'=' * (-len(bstruct) % 4))
        except (TypeError, ValueError) as e:
            raise ValueError('session cookie is not base64') from e
        signature, payload = signed[:SIGNATURE_SIZE], signed[SIGNATURE_SIZE:]
        for n, secret_hmac in enumerate(self.hmacs):
            if hmac.compare_digest(_sign(secret_hmac, payload), signature):
                return self.serializer.loads(payload), n > 0
        raise ValueError('session cookie not signed by any accepted secret')


#: The size of an HMAC-SHA512, which starts every signed cookie.
SIGNATURE_SIZE = 64


def _signing_key(salt, secret):
    # as WebOb's SignedSerializer makes it, so that cookies stay valid
    try:
        return (salt + secret).encode('latin-1')
    except UnicodeEncodeError:
        return (salt + secret).encode('utf-8')


def _sign(secret_hmac, payload):
    signature = secret_hmac.copy()
    signature.update(payload)
    return signature.digest()


#: The longest cookie value Pyramid's cookie sessions write.
MAX_COOKIE_VALUE = 4064


def CookieSessionFactory(signer, cookie_name='session', path='/',
                         secure=False, httponly=False, samesite='Lax',
                         set_on_exception=True):
    """Pyramid's BaseCookieSessionFactory(signer, ...) with these cookie
    settings, as SignedCookieSessionFactory(secret) makes it, whose
    sessions write their Set-Cookie header in one step.

    Pyramid writes the cookie through WebOb's general cookie writer, which
    checks and quotes every part of it on every response. Here only the
    value changes, and it is URL-safe base64, which a cookie holds as it
    is; so WebOb writes the header once, around a placeholder, and each
    response gets a copy with the value in its place.
    """
    base = BaseCookieSessionFactory(
        signer, cookie_name=cookie_name, path=path, secure=secure,
        httponly=httponly, samesite=samesite,
        set_on_exception=set_on_exception)
    prefix, suffix = make_cookie(
        cookie_name, 'VALUE', path=path, secure=secure, httponly=httponly,
        samesite=samesite).split('VALUE')

    class CookieSession(base):

        def _set_cookie(self, response):
            # what Pyramid's does, but for how the header is written
            if not set_on_exception \
                    and getattr(self.request, 'exception', None) is not None:
                return False
            value = signer.dumps((self.accessed, self.created, dict(self)))
            if len(value) > MAX_COOKIE_VALUE:
                raise ValueError('Cookie value is too long to store (%d '
                                 'bytes)' % len(value))
            response.headerlist.append(
                ('Set-Cookie', prefix + value.decode('ascii') + suffix))
            return True

    return CookieSession


def session_signer(settings, **kw):
    """The signer of this app's session cookies, for either store."""
    return SessionSigner(session_secret(settings),
                         old_session_secrets(settings), **kw)


def secure_cookie(settings):
    """Whether the session cookie is sent over HTTPS only (production)."""
    return asbool(settings.get('tutorial.secure_cookie', False))


def session_store(settings):
    """Return where sessions are kept: 'cookie' (the step's) or 'redis'."""
    store = settings.get('tutorial.session_store', 'cookie')
    if store not in SESSION_STORES:
        raise SystemExit(
            'tutorial: tutorial.session_store is %r; it must be one of: %s'
            % (store, ', '.join(SESSION_STORES)))
    return store


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_time(value):
    # comparisons, unlike math.isfinite, take any int; NaN fails them
    return (
        (is_int(value) or isinstance(value, float))
        and 0 <= value <= MAX_TIME
    )


def _is_short_text(value):
    return (isinstance(value, str)
            and len(value) <= MAX_FLASH_BYTES
            and len(json.dumps(value)) <= MAX_FLASH_BYTES)


def clean_state(state):
    """Return the part of a session's data that this app can use.

    A client holds a signed-cookie session, and the development secret is
    public, so a cookie may carry anything JSON can. Values the app did not
    write, in a shape it cannot use, are dropped rather than trusted; so
    are keys it does not know, which also bounds the size of the session.
    """
    if not isinstance(state, dict):
        return {}
    clean = {}
    counter = state.get('counter')
    if is_int(counter) and 0 <= counter <= MAX_COUNTER:
        clean['counter'] = counter
    messages = state.get(FLASH_KEY)
    if isinstance(messages, list):
        messages = [
            m for m in messages[-MAX_FLASH_MESSAGES:] if _is_short_text(m)
        ]
        if messages:
            clean[FLASH_KEY] = messages
    token = state.get(CSRF_KEY)
    if isinstance(token, str) and _CSRF_TOKEN.match(token):
        clean[CSRF_KEY] = token
    return clean


#: json.dumps with any option makes a new encoder on every call; this one
#: is made once.
_COMPACT_JSON = json.JSONEncoder(separators=(',', ':'))


def dump_json(value):
    """Compact JSON bytes: a session's form in a cookie or in Redis."""
    return _COMPACT_JSON.encode(value).encode('utf-8')


class SessionSerializer:
    """JSON for the signed cookie, checked on the way in.

    Pyramid signs and unsigns the cookie around this serializer and starts
    a new session when ``loads`` raises ValueError.
    """

    def dumps(self, appstruct):
        return dump_json(appstruct)

    def loads(self, bstruct):
        try:
            renewed, created, state = json.loads(bstruct.decode('utf-8'))
        except (TypeError, ValueError, RecursionError) as e:
            # RecursionError: JSON nested deeper than Python's stack.
            raise ValueError('session cookie is not a session') from e
        if not (is_time(renewed) and is_time(created)):
            raise ValueError('session cookie has no valid times')
        return [renewed, created, clean_state(state)]
