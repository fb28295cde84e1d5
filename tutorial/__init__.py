from pyramid.config import Configurator
from pyramid.session import SignedCookieSessionFactory

from .config.middleware import with_middleware
from .sessions.data import SessionSerializer
from .sessions.factories import cookie_flags
from .sessions.secrets import session_secret


def main(global_config, **settings):
    """Return the tutorial's WSGI application."""
    my_session_factory = SignedCookieSessionFactory(
        session_secret(settings), serializer=SessionSerializer(),
        **cookie_flags(settings))
    config = Configurator(settings=settings,
                          session_factory=my_session_factory)
    config.include('pyramid_chameleon')
    config.add_route('home', '/')
    config.add_route('hello', '/howdy')
    config.scan('.views')
    # Beyond the step, one line a room (tutorial/<room>/__init__.py):
    # the "Reset the counter" form, the app's look, its own error pages
    config.include('.pages')
    # what a request must pass, and the headers every answer carries
    config.include('.security')
    # the store one setting picks, and a session's absolute lifetime
    config.include('.sessions')
    # /metrics, /healthz and /readyz, and warnings summed up
    config.include('.operations')
    return with_middleware(config.make_wsgi_app())
