from pyramid.config import Configurator

from .sessions import (
    CookieSessionFactory,
    SessionSerializer,
    secure_cookie,
    session_signer,
    session_store,
    )


def main(global_config, **settings):
    """Return the tutorial's WSGI application."""
    store = session_store(settings)
    my_session_factory = None
    if store == 'cookie':
        # SignedCookieSessionFactory(secret), with a signer that also
        # reads cookies signed with an old secret (see sessions.py)
        my_session_factory = CookieSessionFactory(
            session_signer(settings, serializer=SessionSerializer()),
            secure=secure_cookie(settings),
            httponly=True,
            samesite='Lax',
        )
    config = Configurator(settings=settings,
                          session_factory=my_session_factory)
    config.include('pyramid_chameleon')
    config.add_route('home', '/')
    config.add_route('hello', '/howdy')
    config.scan('.views')
    # Beyond the step: the flash-message form, the app's own look and
    # error pages, a guard against requests it should not read, the
    # headers of a deployed site, fewer queue warnings under load, and
    # sessions in Redis.
    config.include('.flash')
    config.include('.pages')
    config.include('.request_guard')
    config.include('.security_headers')
    config.include('.queue_warnings')
    if store == 'redis':
        from .redis_store import StoreUnavailable

        config.include('.redis_store')
        return StoreUnavailable(config.make_wsgi_app())
    return config.make_wsgi_app()
