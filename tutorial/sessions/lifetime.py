"""Beyond the step: how long a session lives, idle and in all.

Pyramid ends a session that goes unused for its idle timeout (the step's
1200 s; ``tutorial.session_timeout``, read with the cookie's flags in
stores.py). A session kept busy, though, or a
stolen one kept busy by its thief, would never end: OWASP's ASVS (V3.3)
asks for an absolute lifetime too. ``tutorial.session_lifetime`` (the
environment's TUTORIAL_SESSION_LIFETIME wins) is the number of seconds
from a session's creation after which it is treated as new, however
busy it has been: as after the idle timeout, the count starts at 1 and
no flash message is carried over. Unset (development.ini, as the step),
sessions have no lifetime. Both are checked at start: anything but a
positive whole number stops the app in one line.
"""
import time

from pyramid.interfaces import ISessionFactory

from ..config.settings import int_setting
from .factories import replace_session_factory

LIFETIME_ENV = 'TUTORIAL_SESSION_LIFETIME'


def session_lifetime(settings):
    """The absolute lifetime in seconds, or None for none."""
    return int_setting(settings, 'tutorial.session_lifetime', LIFETIME_ENV,
                       minimum=1, unit='seconds')


class LifetimeSessions:
    """A session factory whose sessions end ``lifetime`` seconds after
    they were created, whatever the factory behind it."""

    def __init__(self, factory, lifetime, clock=time.time):
        self.factory = factory
        self.lifetime = lifetime
        self.clock = clock

    def __call__(self, request):
        session = self.factory(request)
        if not session.new and \
                self.clock() - session.created > self.lifetime:
            session.invalidate()
            # Pyramid's cookie session keeps its creation time through
            # invalidate(): the session that now begins is born now.
            # (pyramid_session_redis starts a new session of its own, whose
            # ``created`` cannot be set, and need not be.)
            try:
                session.created = self.clock()
            except AttributeError:
                pass
        return session


def includeme(config):
    settings = config.get_settings()
    lifetime = session_lifetime(settings)
    if lifetime is None:
        return
    # the factory main() or the store registered, once they are all in
    config.commit()
    factory = config.registry.getUtility(ISessionFactory)
    replace_session_factory(config, LifetimeSessions(factory, lifetime))
