"""Beyond the step: which store keeps the sessions.

main() registers the step's SignedCookieSessionFactory. One setting,
``tutorial.session_store`` (the environment's TUTORIAL_SESSION_STORE wins,
so that one ini file can serve any store), names the store, and the
module of the same name sets it up, replacing the factory in its own
``includeme`` when it must:

- ``cookie``: the step's signed cookie (cookie.py replaces it only while
  old secrets are named, to read what they signed);
- ``encrypted``: a cookie only the server can read (encrypted.py);
- ``redis``: the data in Redis, an id in the cookie (the redis package).
"""
import os

from ..config.settings import choice_setting

STORE_ENV = 'TUTORIAL_SESSION_STORE'
STORES = ('cookie', 'encrypted', 'redis')


def session_store(settings, environ=os.environ):
    """The store named by TUTORIAL_SESSION_STORE, else by the setting,
    else the step's cookie; any other name stops the app in one line."""
    return choice_setting(settings, 'tutorial.session_store', list(STORES),
                          env=STORE_ENV, default='cookie', environ=environ)


def waiting_requests(settings, environ=os.environ):
    """How many requests of one session may wait for its lock in one
    process, beyond those the app works on: only the Redis store takes a
    lock (redis/commands.py says how many wait)."""
    if session_store(settings, environ) != 'redis':
        return 0
    # imported here: the redis package needs the ``redis`` extra, which
    # the cookie stores do without
    from .redis.commands import waiting_requests
    return waiting_requests(settings, environ)


def includeme(config):
    config.include('.' + session_store(config.get_settings()))
