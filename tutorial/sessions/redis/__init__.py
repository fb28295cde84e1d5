"""Beyond the step: sessions kept in Redis, the "richer session support".

The cookie then carries only a signed session id; the data lives in Redis
(through pyramid_session_redis) and the views and template are unchanged,
since both stores give ``request.session`` the same interface.

The operator names the server in one URL, TUTORIAL_REDIS_URL (or the
setting ``tutorial.redis_url``), or the sentinels or a cluster; redis-py
builds the client, and this package adds what a deployed store needs. Its
files, one concern each:

- topology: where Redis is (URL, topology), and the one-line refusal;
- redaction: no password in any line;
- causes: what went wrong, in a few words;
- timeouts: how long Redis may take, and how long the breaker rests;
- breaker: a breaker per server, before redis-py's connections;
- clients: the client for one endpoint, the sentinels or a cluster;
- keys: the keys in Redis, derived one way from the cookies' tokens;
- commands: a lock per session around its read and its save;
- startup: the question asked once at start;
- factory: the session factory;
- unavailable: the 503 and 429 pages, and the log of failures.
"""
import functools

try:
    import pyramid_session_redis  # noqa: F401
    import redis  # noqa: F401
except ImportError as e:
    # only the redis extra's own packages: any other ImportError is a bug
    if (e.name or '').split('.')[0] not in ('redis', 'pyramid_session_redis'):
        raise
    raise SystemExit('tutorial: sessions in Redis need the redis extra: '
                     'pip install -e ".[redis]"') from None

from ...config.middleware import add_middleware
from ...operations.probes import READINESS
from ..factories import replace_session_factory
from .causes import STORE_ERRORS, cause_of
from .clients import redis_client
from .factory import redis_session_factory
from .redaction import scrubbed
from .topology import redis_url
from .unavailable import (
    BUSY_NEEDS,
    FailureLog,
    StoreUnavailable,
    StoreUnavailableMiddleware,
    )


def readiness(get_client, url):
    """None while Redis answers a PING; else why not, with no secret in
    it. The PING goes through the breaker: while it is open, the answer
    is its state, at once."""
    try:
        get_client().ping()
    except STORE_ERRORS as e:
        return scrubbed(cause_of(e), url)
    return None


def includeme(config):
    settings = config.get_settings()
    get_client, where = redis_client(settings)
    factory = redis_session_factory(settings, get_client)
    replace_session_factory(config, factory)
    unavailable = StoreUnavailable(FailureLog(where))
    config.registry[BUSY_NEEDS] = (factory.key_of, unavailable)
    config.add_tween(
        'tutorial.sessions.redis.unavailable.busy_tween_factory',
        under='tutorial.security.request_guard.request_guard_tween_factory')
    for error in STORE_ERRORS:
        config.add_exception_view(unavailable, context=error)
    add_middleware(config, 'session store', functools.partial(
        StoreUnavailableMiddleware, unavailable=unavailable))
    config.registry[READINESS] = functools.partial(
        readiness, get_client, redis_url(settings))
