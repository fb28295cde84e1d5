from pyramid.config import Configurator
from pyramid.session import SignedCookieSessionFactory
from pyramid.settings import asbool

from .sessions import SessionSerializer, session_secret, session_store


def main(global_config, **settings):
    """Return the tutorial's WSGI application."""
    secret = session_secret(settings)
    if session_store(settings) == 'redis':
        from .redis_store import redis_session_factory

        my_session_factory = redis_session_factory(secret, settings)
    else:
        my_session_factory = SignedCookieSessionFactory(
            secret,
            secure=asbool(settings.get('tutorial.secure_cookie', False)),
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
    config.include('.flash')
    return config.make_wsgi_app()
