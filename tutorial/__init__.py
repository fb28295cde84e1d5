from pyramid.config import Configurator
from pyramid.session import SignedCookieSessionFactory

from .middleware import with_middleware
from .session_data import SessionSerializer
from .session_secrets import session_secret
from .session_stores import cookie_flags


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
    # Beyond the step, one line each:
    # the "Reset the counter" form and its flash message
    config.include('.flash')
    # the app's look, and its own 404, 400 and 503 pages
    config.include('.pages')
    # hosts it does not serve and requests it cannot read get a 400,
    # bodies larger than its form a 413
    config.include('.request_guard')
    # the headers a deployed site sends
    config.include('.security_headers')
    # waitress's "queue depth" warnings summed up
    config.include('.queue_warnings')
    # the store named by tutorial.session_store, if not the step's cookie
    config.include('.session_stores')
    # a session's absolute lifetime, whatever the store
    config.include('.session_lifetime')
    # what an operator watches: requests, sessions and the store, counted
    config.include('.metrics')
    # /healthz and /readyz, for load balancers and orchestrators
    config.include('.probes')
    return with_middleware(config.make_wsgi_app())
