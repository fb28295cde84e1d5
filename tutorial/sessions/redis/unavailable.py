"""While Redis cannot keep sessions: the 503 page, and a log line by
cause, a few at a time."""
import logging

from ...operations.log_summary import LogSummary
from ...operations.metrics import (
    STORE_FAILURES,
    UNAVAILABLE,
    answered,
    cause_label,
    )
from ...pages.errors import html_response, message_page
from ...security.headers import add_security_headers, security_headers
from ..factories import COOKIE_NAME
from .causes import STORE_ERRORS, SessionBusy, cause_of
from .commands import WAITING, crowded, crowded_error

log = logging.getLogger(__name__)

UNAVAILABLE_PAGE = message_page(
    'sessions unavailable', 'Sessions are unavailable for a moment',
    'The server that keeps sessions is not answering. Nothing was lost: '
    'please reload this page in a few seconds.')


BUSY_PAGE = message_page(
    'session busy', 'Your session is busy',
    'Other requests of your session are being answered just now, so this '
    'one was not. Nothing was lost: please reload this page in a moment.')


class FailureLog:
    """Logs why sessions are unavailable: a cause's first failure at once,
    then at most one line a cause each ``interval`` seconds, saying how
    many it stands for, so that a Redis down under load is a few lines,
    not one a request."""

    def __init__(self, where, interval=10, summary=None):
        self.where = where
        self.interval = interval
        self.summary = summary or LogSummary(interval)

    def failed(self, exc):
        cause = cause_of(exc)
        due = self.summary.due(cause)
        if due is None:
            return
        more = due[0] - 1
        # a busy session is one visitor's; Redis is fine
        what = 'a session is busy' if isinstance(exc, SessionBusy) \
            else 'sessions unavailable'
        if more:
            log.warning('%s: Redis at %s: %s (and %d more such in %d s)',
                        what, self.where, cause, more, self.interval)
        else:
            log.warning('%s: Redis at %s: %s', what, self.where, cause)


class StoreUnavailable:
    """The short 503 page, while Redis cannot keep sessions; each failure
    logged, by its cause, in a FailureLog. Nothing was lost. A session
    whose lock is taken by its own other requests gets the 429 page
    instead: Redis is fine, the visitor is asked to come back."""

    def __init__(self, failures):
        self.failures = failures

    def __call__(self, exc, request=None):
        self.failures.failed(exc)
        STORE_FAILURES.labels('redis', cause_label(cause_of(exc))).inc()
        if isinstance(exc, SessionBusy):
            response = html_response(BUSY_PAGE, 429)
            response.retry_after = 1
            return response
        UNAVAILABLE.inc()
        response = html_response(UNAVAILABLE_PAGE, 503)
        response.retry_after = 5
        return response


#: The registry's key (a name of no object) under which the store leaves
#: what the busy tween needs: the key a session cookie names, and the
#: 429 page's view.
BUSY_NEEDS = 'tutorial.redis_busy_needs'


def busy_tween_factory(handler, registry):
    """Turns away at once a request of a session that has MAX_WAITING
    requests waiting for its lock in this process already, with the 429
    page the wait would end in, before the app does any work for it. (The
    wait itself counts its places under a lock: this is the cheap way
    out, tried only while some session waits at all.)"""
    key_of, busy = registry[BUSY_NEEDS]

    def busy_tween(request):
        if WAITING:
            cookie = request.cookies.get(COOKIE_NAME)
            key = key_of(cookie) if cookie else None
            if key is not None and crowded(key):
                return busy(crowded_error(), request)
        return handler(request)
    return busy_tween


class StoreUnavailableMiddleware:
    """WSGI middleware: while Redis cannot keep sessions, the 503 page.

    A view that reads the session meets the error in the view, where the
    exception view answers (before the debug toolbar can). But
    pyramid_session_redis saves a session in a finished callback, after
    every exception view has had its turn, so the error is also caught
    here, around the whole application. The server keeps serving.
    """

    def __init__(self, app, registry, unavailable):
        self.app = app
        self.registry = registry
        self.unavailable = unavailable
        self.headers = security_headers(registry)

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        except STORE_ERRORS as e:
            response = add_security_headers(self.unavailable(e),
                                            self.headers)
        # counted as this 503, not as what Pyramid made before it failed
        answered(environ, response)
        return response(environ, start_response)
