from pyramid.config import Configurator
from pyramid.session import SignedCookieSessionFactory

from .sessions import (
    SessionSerializer,
    secure_cookie,
    session_secret,
    session_store,
    )


def main(global_config, **settings):
    """Return the tutorial's WSGI application."""
    store = session_store(settings)
    my_session_factory = None
    if store == 'cookie':
        my_session_factory = SignedCookieSessionFactory(
            session_secret(settings),
            secure=secure_cookie(settings),
            httponly=True,
            samesite='Lax',
            serializer=SessionSerializer(),
        )
    config = Configurator(settings=settings,
                          session_factory=my_session_factory)
    config.include('pyramid_chameleon')
    config.add_route('home', '/')
    config.add_route('hello', '/howdy')
    config.scan('.views')
    # Beyond the step: the flash-message form, a guard against requests
    # that cannot be read, and sessions in Redis.
    config.include('.flash')
    config.include('.request_guard')
    if store == 'redis':
        from .redis_store import StoreUnavailable

        config.include('.redis_store')
        return StoreUnavailable(config.make_wsgi_app())
    return config.make_wsgi_app()
