"""Beyond the step: sessions kept in Redis, the "richer session support".

The cookie then carries only a signed session id; the data lives in Redis
(through pyramid_session_redis) and the views and template are unchanged,
since both stores give ``request.session`` the same interface.
"""
import functools
import json

try:
    from pyramid_session_redis import RedisSessionFactory
    from .redis_client import STORE_ERRORS, FailureLog, redis_client
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


class SessionIdText:
    """The session id, as pyramid_session_redis signs it: str in, bytes
    out of dumps, and back."""

    def dumps(self, session_id):
        return session_id.encode('ascii')

    def loads(self, bstruct):
        return bstruct.decode('ascii')


def redis_session_factory(settings, get_client):
    # the cookie signer of the cookie store, with pyramid_session_redis's salt
    signer = session_signer(settings, salt='pyramid_session_redis.',
                            serializer=SessionIdText())
    flags = cookie_flags(settings)
    factory = RedisSessionFactory(
        None,
        cookie_signer=signer,
        redis_client_callable=lambda request, **options: get_client(),
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


class StoreUnavailable:
    """The short 503 page, while Redis cannot keep sessions; each failure
    logged, by its cause, in a FailureLog. Nothing was lost."""

    def __init__(self, failures):
        self.failures = failures

    def __call__(self, exc, request=None):
        self.failures.failed(exc)
        response = html_response(UNAVAILABLE_PAGE, 503)
        response.retry_after = 5
        return response


class StoreUnavailableMiddleware:
    """WSGI middleware: while Redis cannot keep sessions, the 503 page.

    A view that reads the session meets the error in the view, where the
    exception view answers (before the debug toolbar can). But
    pyramid_session_redis saves a session in a response callback, after
    every exception view has had its turn, so the error is also caught
    here, around the whole application. The server keeps serving.
    """

    def __init__(self, app, unavailable):
        self.app = app
        self.unavailable = unavailable
        self.headers = security_headers(app.registry.settings)

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        except STORE_ERRORS as e:
            response = add_security_headers(self.unavailable(e),
                                            self.headers)
        return response(environ, start_response)


def includeme(config):
    settings = config.get_settings()
    get_client, where = redis_client(settings)
    replace_session_factory(config,
                            redis_session_factory(settings, get_client))
    unavailable = StoreUnavailable(FailureLog(where))
    for error in STORE_ERRORS:
        config.add_exception_view(unavailable, context=error)
    config.registry[MIDDLEWARE] = functools.partial(
        StoreUnavailableMiddleware, unavailable=unavailable)
