"""Beyond the step: sessions kept in Redis, the "richer session support".

The cookie then carries only a signed session id; the data lives in Redis
(through pyramid_session_redis) and the views and template are unchanged,
since both stores give ``request.session`` the same interface.
"""
import json
import logging
import os

from pyramid.response import Response

try:
    from pyramid_session_redis import RedisSessionFactory
    from redis.exceptions import ConnectionError, TimeoutError
except ImportError:
    raise SystemExit('tutorial: sessions in Redis need the redis extra: '
                     'pip install -e ".[redis]"') from None

from .sessions import clean_state, dump_json, secure_cookie, session_secret

log = logging.getLogger(__name__)

#: Where redis.ini's sessions live unless TUTORIAL_REDIS_URL says otherwise.
DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0'
REDIS_URL_ENV = 'TUTORIAL_REDIS_URL'


def redis_url(settings, environ=os.environ):
    """The Redis server: the environment's, else the setting, else local."""
    return (environ.get(REDIS_URL_ENV)
            or settings.get('tutorial.redis_url')
            or DEFAULT_REDIS_URL)


def deserialize(data):
    """JSON from Redis, with the session's own data checked as for cookies.

    What Redis holds was written by the server, but perhaps by an older
    version of the app; anything raised here starts a new session.
    """
    payload = json.loads(data)
    payload['m'] = clean_state(payload['m'])
    return payload


def redis_session_factory(settings):
    return RedisSessionFactory(
        session_secret(settings),
        redis_url=redis_url(settings),
        # answer soon, as a 503, when Redis is away
        redis_socket_timeout=2,
        cookie_secure=secure_cookie(settings),
        cookie_httponly=True,
        cookie_samesite='Lax',
        serialize=dump_json,
        deserialize=deserialize,
        deserialized_fails_new=True,
    )


with open(os.path.join(os.path.dirname(__file__),
                       'store_unavailable.html'), 'rb') as f:
    UNAVAILABLE_PAGE = f.read()


def store_unavailable(exc, request=None):
    """A short 503 page: Redis does not answer; nothing was lost."""
    # one line, though a template's error adds its context on more lines
    log.warning('sessions unavailable: %s', str(exc).split('\n')[0])
    return Response(UNAVAILABLE_PAGE, status=503, content_type='text/html',
                    headers={'Retry-After': '5'})


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

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        except (ConnectionError, TimeoutError) as e:
            response = store_unavailable(e)
        return response(environ, start_response)


def includeme(config):
    config.set_session_factory(
        redis_session_factory(config.get_settings()))
    for error in (ConnectionError, TimeoutError):
        config.add_exception_view(store_unavailable, context=error)
