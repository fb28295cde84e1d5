"""Beyond the step: sessions kept in Redis, the "richer session support".

The cookie then carries only a signed session id; the data lives in Redis
(through pyramid_session_redis) and the views and template are unchanged,
since both stores give ``request.session`` the same interface.
"""
import json
import logging
import os
import threading
import time

try:
    from pyramid_session_redis import RedisSessionFactory
    from redis import Connection, Redis
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError, ResponseError, TimeoutError
    from redis.retry import Retry
except ImportError:
    raise SystemExit('tutorial: sessions in Redis need the redis extra: '
                     'pip install -e ".[redis]"') from None

from .pages import html_response, message_page
from .security_headers import add_security_headers, security_headers
from .session_data import clean_state, dump_json, is_int, is_time
from .session_secrets import session_signer
from .session_stores import (
    MIDDLEWARE,
    cookie_flags,
    replace_session_factory,
    )

log = logging.getLogger(__name__)

#: Where redis.ini's sessions live unless TUTORIAL_REDIS_URL says otherwise.
DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0'
REDIS_URL_ENV = 'TUTORIAL_REDIS_URL'


def redis_url(settings, environ=os.environ):
    """The Redis server: the environment's, else the setting, else local."""
    return (environ.get(REDIS_URL_ENV)
            or settings.get('tutorial.redis_url')
            or DEFAULT_REDIS_URL)


#: How long a command may wait for Redis before the page says 503.
REDIS_TIMEOUT = 1.0
#: After Redis failed to answer, how long requests get the 503 at once
#: before one of them asks Redis again.
REDIS_PAUSE = 0.5


def deserialize(data):
    """JSON from Redis, with the session's own data checked as for cookies.

    What Redis holds was written by the server, but perhaps by an older
    version of the app, or by something else; anything raised here starts
    a new session.
    """
    payload = json.loads(data)
    if not (isinstance(payload, dict)
            and isinstance(payload.get('m'), dict)
            and is_time(payload.get('c'))
            and is_int(payload.get('v'))
            and all(payload.get(key) is None or is_int(payload[key])
                    for key in ('t', 'x'))):
        raise ValueError('not a session of pyramid_session_redis')
    payload['m'] = clean_state(payload['m'])
    return payload


class Breaker:
    """Remembers for a moment that Redis did not answer.

    Without it, while Redis hangs every request waits out its own timeout,
    and the server's few threads queue behind each other. With it, once a
    command has failed, requests get the 503 at once for REDIS_PAUSE; then
    one request asks Redis again while the others still get the 503, and
    the first answer from Redis lets everyone through.
    """

    def __init__(self, timeout=REDIS_TIMEOUT, pause=REDIS_PAUSE):
        self.timeout = timeout
        self.pause = pause
        self.lock = threading.Lock()
        self.next_try = 0.0  # 0: Redis answered last time
        self.asking = None  # the thread that asks Redis again

    def before(self):
        if not self.next_try or self.asking == threading.get_ident():
            return
        with self.lock:
            now = time.monotonic()
            if not self.next_try:
                return
            if now < self.next_try:
                raise ConnectionError('Redis did not answer just now')
            # this thread asks; the others wait for what it learns
            self.next_try = now + self.timeout + self.pause
            self.asking = threading.get_ident()

    def failed(self):
        with self.lock:
            self.next_try = time.monotonic() + self.pause
            self.asking = None

    def answered(self):
        if self.next_try:
            with self.lock:
                self.next_try = 0.0
                self.asking = None


class BreakerConnection(Connection):
    """A connection to Redis that goes through a Breaker: every command of
    the session store, pipelines included, is sent on one of these."""

    def __init__(self, *, breaker, **kwargs):
        super().__init__(**kwargs)
        self.breaker = breaker

    # redis-py connects from the pool, and again before sending when the
    # connection was closed: both come through here.
    def connect_check_health(self, *args, **kwargs):
        self.breaker.before()
        try:
            super().connect_check_health(*args, **kwargs)
        except (ConnectionError, TimeoutError):
            self.breaker.failed()
            raise

    def send_packed_command(self, command, check_health=True):
        self.breaker.before()
        try:
            super().send_packed_command(command, check_health)
        except (ConnectionError, TimeoutError):
            self.breaker.failed()
            raise

    def read_response(self, *args, **kwargs):
        try:
            response = super().read_response(*args, **kwargs)
        except (ConnectionError, TimeoutError):
            self.breaker.failed()
            raise
        except ResponseError:
            self.breaker.answered()  # an error, but an answer
            raise
        self.breaker.answered()
        return response


class SessionRedis(Redis):
    """The session store's Redis client: a session id naming a key of
    another type (a list, a hash) reads as no session, so a new one
    starts instead of a 500."""

    def get(self, name):
        try:
            return super().get(name)
        except ResponseError as e:
            if str(e).startswith('WRONGTYPE'):
                return None
            raise


def redis_client(settings):
    return SessionRedis.from_url(
        redis_url(settings),
        connection_class=BreakerConnection,
        breaker=Breaker(),
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        # redis-py retries three times by default: once is the Breaker's
        retry=Retry(NoBackoff(), 0),
    )


class SessionIdText:
    """The session id, as pyramid_session_redis signs it: str in, bytes
    out of dumps, and back."""

    def dumps(self, session_id):
        return session_id.encode('ascii')

    def loads(self, bstruct):
        return bstruct.decode('ascii')


def redis_session_factory(settings):
    client = redis_client(settings)
    # the cookie signer of the cookie store, with pyramid_session_redis's salt
    signer = session_signer(settings, salt='pyramid_session_redis.',
                            serializer=SessionIdText())
    flags = cookie_flags(settings)
    factory = RedisSessionFactory(
        None,
        cookie_signer=signer,
        redis_client_callable=lambda request, **options: client,
        cookie_secure=flags['secure'],
        cookie_httponly=flags['httponly'],
        cookie_samesite=flags['samesite'],
        serialize=dump_json,
        deserialize=deserialize,
        deserialized_fails_new=True,
    )
    if len(signer.hmacs) == 1:
        return factory

    def session_factory(request):
        # pyramid_session_redis sets the cookie only for a new session:
        # one read with an old secret is signed again with the current one
        session = factory(request)
        cookie = request.cookies.get('session')
        if cookie:
            try:
                if signer.loads_with(cookie.encode('ascii'))[1]:
                    session.please_recookie()
            except ValueError:
                pass  # not signed by any accepted secret: a new session
        return session
    return session_factory


UNAVAILABLE_PAGE = message_page(
    'sessions unavailable', 'Sessions are unavailable for a moment',
    'The server that keeps sessions is not answering. Nothing was lost: '
    'please reload this page in a few seconds.')


def store_unavailable(exc, request=None):
    """A short 503 page: Redis does not answer; nothing was lost."""
    # one line, though a template's error adds its context on more lines
    log.warning('sessions unavailable: %s', str(exc).split('\n')[0])
    response = html_response(UNAVAILABLE_PAGE, 503)
    response.retry_after = 5
    return response


class StoreUnavailable:
    """WSGI middleware: while Redis does not answer, the 503 page.

    A view that reads the session meets the error in the view, where the
    exception view below answers (before the debug toolbar can). But
    pyramid_session_redis saves a session in a response callback, after
    every exception view has had its turn, so the error is also caught
    here, around the whole application. The server keeps serving.
    """

    def __init__(self, app):
        self.app = app
        self.headers = security_headers(app.registry.settings)

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        except (ConnectionError, TimeoutError) as e:
            response = add_security_headers(store_unavailable(e),
                                            self.headers)
        return response(environ, start_response)


def includeme(config):
    replace_session_factory(config,
                            redis_session_factory(config.get_settings()))
    for error in (ConnectionError, TimeoutError):
        config.add_exception_view(store_unavailable, context=error)
    config.registry[MIDDLEWARE] = StoreUnavailable
