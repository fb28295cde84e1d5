"""A breaker for each Redis server, put before redis-py's connections.

Without one, while Redis hangs every request waits out its own timeout
and the server's threads queue behind each other. A Breaker has the
pattern's three states:

- closed: commands go to Redis;
- open: a command failed to reach Redis, and for ``reset_timeout``
  seconds every command fails at once (StoreResting, with the cause seen),
  which the app answers with a 503;
- half-open: then one request's command goes to Redis as a trial while
  the others still fail at once; its answer closes the breaker, its
  failure opens it again.

What a failover needs is split between redis-py and this module. redis-py
already handles a sentinel-managed master that has become a replica (its
connection turns ReadOnlyError into a ConnectionError and asks the
sentinels again), and its cluster client follows MOVED and ASK replies
and asks for the map again. This module adds the rest: one breaker per
server, so a node that hangs costs only the sessions it holds; and a
connection that hears a node cannot take writes now (READONLY, LOADING,
MASTERDOWN, TRYAGAIN, CLUSTERDOWN) is dropped, so the next request
connects afresh, behind a single endpoint to the new primary.

(pybreaker names the same states; it runs the guarded call inside its
lock, which would serialize every Redis command of a process.)
"""
import threading
import time

from redis.connection import Connection, ConnectionPool
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
    ResponseError,
    TimeoutError as RedisTimeoutError,
    )

from ...operations.metrics import BREAKER_OPEN, STORE_OPERATIONS
from .causes import StoreResting, cause_of, is_failover_reply
from .timeouts import REDIS_PAUSE, REDIS_TIMEOUT

CLOSED, OPEN, HALF_OPEN = 'closed', 'open', 'half-open'


class Breaker:
    """The breaker of one Redis server (see the module's docstring)."""

    def __init__(self, node='', reset_timeout=REDIS_PAUSE,
                 trial_timeout=REDIS_TIMEOUT):
        self.node = node
        self.reset_timeout = reset_timeout
        # a trial that hangs gives way to another after this long
        self.trial_timeout = trial_timeout
        self.lock = threading.Lock()
        self.retry_at = 0.0  # 0: closed
        self.trial = None  # the thread whose command is the trial
        self.cause = None

    @property
    def state(self):
        if not self.retry_at:
            return CLOSED
        return HALF_OPEN if self.trial is not None else OPEN

    def before(self):
        """Let a command through, or raise StoreResting while open."""
        if not self.retry_at or self.trial == threading.get_ident():
            return
        with self.lock:
            now = time.monotonic()
            if not self.retry_at:
                return
            if now < self.retry_at:
                raise StoreResting(self.cause)
            # half-open: this thread's command is the trial
            self.retry_at = now + self.trial_timeout + self.reset_timeout
            self.trial = threading.get_ident()

    def failed(self, exc):
        """Open, remembering why."""
        with self.lock:
            self.retry_at = time.monotonic() + self.reset_timeout
            self.trial = None
            self.cause = cause_of(exc)
        BREAKER_OPEN.labels(self.node).set(1)

    def answered(self):
        """Close: Redis answered."""
        if self.retry_at:
            with self.lock:
                self.retry_at = 0.0
                self.trial = None
            BREAKER_OPEN.labels(self.node).set(0)


class Breakers:
    """A Breaker for each server that connections reach: the one endpoint,
    a sentinel's master of the moment, each node of a cluster."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_address = {}

    def of(self, connection):
        address = (getattr(connection, 'host', None),
                   getattr(connection, 'port', None),
                   getattr(connection, 'path', None))
        breaker = self.by_address.get(address)
        if breaker is None:
            host, port, path = address
            with self.lock:
                breaker = self.by_address.setdefault(address, Breaker(
                    path or '%s:%s' % (host, port)))
        return breaker


def through(breaker, call, *args, **kwargs):
    """``call(*args, **kwargs)``, if ``breaker`` lets it through; a failure
    to reach Redis opens it."""
    breaker.before()
    try:
        return call(*args, **kwargs)
    except (RedisConnectionError, RedisTimeoutError) as e:
        breaker.failed(e)
        raise


class BreakerConnection:
    """Put before the connection class redis-py picked for the URL (plain,
    TLS, unix socket, sentinel-managed): every command of the session
    store, pipelines included, goes through its Breaker, and a reply that
    says the node cannot take writes drops the connection."""

    #: set on each client's own class (with_breakers): redis-py's cluster
    #: client hands its nodes' connections only the options it knows
    breakers = None
    #: the node said it cannot take writes: connect afresh before the next
    #: command (not at once: a pipeline still reads its other replies)
    stale = False

    # redis-py connects from the pool, and again before sending when the
    # connection was closed: both come through here.
    def connect_check_health(self, *args, **kwargs):
        return through(self.breakers.of(self), super().connect_check_health,
                       *args, **kwargs)

    def send_packed_command(self, *args, **kwargs):
        STORE_OPERATIONS.labels('redis').inc()
        if self.stale:
            self.stale = False
            self.disconnect()
        return through(self.breakers.of(self), super().send_packed_command,
                       *args, **kwargs)

    def read_response(self, *args, **kwargs):
        breaker = self.breakers.of(self)
        try:
            response = super().read_response(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as e:
            breaker.failed(e)
            raise
        except ResponseError as e:
            breaker.answered()  # an error, but an answer
            if is_failover_reply(e):
                self.stale = True
            raise
        breaker.answered()
        return response


def with_breakers(connection_class, breakers=None):
    """``connection_class`` with Breakers before it, for one client."""
    return type('Breaker' + connection_class.__name__,
                (BreakerConnection, connection_class),
                {'breakers': breakers or Breakers()})


def breaker_pool_class():
    """A ConnectionPool class for one cluster client: each node's pool
    makes connections of the class redis-py picked for it (TCP or TLS),
    with the client's Breakers before it."""
    breakers = Breakers()
    classes = {}

    class BreakerConnectionPool(ConnectionPool):
        def __init__(self, connection_class=Connection, **kwargs):
            if connection_class not in classes:
                classes[connection_class] = with_breakers(connection_class,
                                                          breakers)
            super().__init__(connection_class=classes[connection_class],
                             **kwargs)
    return BreakerConnectionPool
