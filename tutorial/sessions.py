"""Where the session comes from and what it may hold.

The step registers a SignedCookieSessionFactory with a secret written in
the code. Here the secret is a setting in development and comes from the
environment in production, and everything a session brings back from the
client is checked before a view sees it.
"""
import json
import os
import re

from pyramid.settings import asbool

#: The printed tutorial's secret: public, so for development only.
DEVELOPMENT_SECRET = 'itsaseekreet'

#: Where production finds its secret.
SECRET_ENV = 'TUTORIAL_SESSION_SECRET'

#: Pyramid's advice for sha512 signatures: a secret of 64 bytes or more.
MIN_SECRET_LENGTH = 64

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


def session_secret(settings, environ=os.environ):
    """Return the secret that signs session cookies.

    With ``tutorial.secret_from_env`` true (production.ini) it is read from
    the environment variable TUTORIAL_SESSION_SECRET, and a missing, short
    or public one stops the application with a one-line message.
    """
    if not asbool(settings.get('tutorial.secret_from_env', False)):
        return settings.get('tutorial.session_secret', DEVELOPMENT_SECRET)
    secret = environ.get(SECRET_ENV, '')
    if not secret:
        problem = 'is not set'
    elif secret == DEVELOPMENT_SECRET:
        problem = "is the tutorial's public development secret"
    elif len(secret) < MIN_SECRET_LENGTH:
        problem = 'is %d characters long; it needs at least %d' % (
            len(secret), MIN_SECRET_LENGTH)
    else:
        return secret
    raise SystemExit(
        'tutorial: %s %s: make one with '
        '`python3 -c "import secrets; print(secrets.token_hex(32))"`'
        % (SECRET_ENV, problem))


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


def dump_json(value):
    """Compact JSON bytes: a session's form in a cookie or in Redis."""
    return json.dumps(value, separators=(',', ':')).encode('utf-8')


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
