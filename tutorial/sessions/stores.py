"""Beyond the step: which store keeps the sessions, and the cookie's flags.

main() registers the step's SignedCookieSessionFactory. One setting,
``tutorial.session_store`` (the environment's TUTORIAL_SESSION_STORE wins,
so that one ini file can serve any store), names the store; the module of
that store replaces the factory in its own ``includeme`` when it must:

- ``cookie``: the step's signed cookie (signing.py replaces it only
  while old secrets are named, to read what they signed);
- ``encrypted``: a cookie only the server can read (encrypted.py);
- ``redis``: the data in Redis, an id in the cookie (the redis package
  beside this module).
"""
import os

from ..config.settings import bool_setting, choice_setting, int_setting

STORE_ENV = 'TUTORIAL_SESSION_STORE'
#: Pyramid's idle timeout, the step's.
DEFAULT_TIMEOUT = 1200

#: Each store, and the module that sets it up.
SESSION_STORES = {
    'cookie': '.signing',
    'encrypted': '.encrypted',
    'redis': '.redis',
}


def session_store(settings, environ=os.environ):
    """The store named by TUTORIAL_SESSION_STORE, else by the setting,
    else the step's cookie; any other name stops the app in one line."""
    return choice_setting(settings, 'tutorial.session_store',
                          list(SESSION_STORES), env=STORE_ENV,
                          default='cookie', environ=environ)


def waiting_requests(settings, environ=os.environ):
    """How many requests of one session may wait for its lock in one
    process: only the Redis store takes a lock (redis/commands.py), and
    only while it is on. A server gives its workers this many threads
    beyond those the app works on."""
    if session_store(settings, environ) != 'redis':
        return 0
    # imported here: the redis package needs the ``redis`` extra, which
    # the cookie stores do without
    from .redis.clients import session_lock
    from .redis.commands import MAX_WAITING
    return MAX_WAITING if session_lock(settings, environ) else 0


def cookie_flags(settings):
    """The session cookie's flags, for every store: never readable by a
    page's scripts, not sent with other sites' forms, and in production
    (``tutorial.secure_cookie``) sent over HTTPS only; and the session's
    idle timeout."""
    return {
        'secure': bool_setting(settings, 'tutorial.secure_cookie'),
        'httponly': True,
        'samesite': 'Lax',
        'timeout': session_timeout(settings),
    }


def session_timeout(settings):
    """How long a session lives unused, in seconds: Pyramid's idle
    timeout, the step's 1200 unless ``tutorial.session_timeout`` says."""
    return int_setting(settings, 'tutorial.session_timeout',
                       default=DEFAULT_TIMEOUT, minimum=1, unit='seconds')


def replace_session_factory(config, factory):
    """Register ``factory`` in place of the step's, from a store's
    includeme.

    What main() itself configures wins over what an include does, in
    Pyramid's conflict resolution, and main() hands the step's factory to
    the Configurator; so what is pending is committed first, as Pyramid's
    documentation advises for overriding, and this factory then replaces
    it.
    """
    config.commit()
    config.set_session_factory(factory)


def includeme(config):
    store = session_store(config.get_settings())
    config.include(SESSION_STORES[store])
