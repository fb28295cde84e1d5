"""How the Redis store reaches Redis, and what it says when it cannot.

The operator names the server in one URL, TUTORIAL_REDIS_URL (or the
setting ``tutorial.redis_url``), in any form redis-py's ``from_url`` reads:
``redis://``, ``rediss://`` with its ``ssl_*`` options, ``unix://``, a user
and a password in it. redis-py builds the client and picks the connection
class for the URL; this module only adds, on top of the class it picked, a
breaker that turns a Redis that hangs into a quick 503.

Two other topologies, each built by redis-py's own client for it:

- Sentinel (TUTORIAL_REDIS_SENTINELS, the sentinels' host:port pairs, and
  TUTORIAL_REDIS_SERVICE, the master's name): ``redis.sentinel.Sentinel``
  finds the master, and finds the new one after a failover; the URL then
  gives only the data nodes' user, password, TLS options and database (a
  rediss:// URL's TLS options serve for the sentinels too).
- Cluster (TUTORIAL_REDIS_CLUSTER=yes): the URL names one node, and
  ``redis.cluster.RedisCluster`` finds the others and spreads the sessions
  over the masters by their ids.

At start the app asks Redis once: a URL that cannot work (a wrong password,
a certificate that does not verify, TLS spoken to a plain port or plain to
a TLS one, a URL redis-py cannot read) stops it with one line; a Redis that
is only down gets a warning, and pages answer 503 until it is back. No line
ever shows the password.
"""
import logging
import os
import socket
import ssl
import threading
import time
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pyramid.settings import asbool
from redis import Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.connection import (
    Connection,
    ConnectionPool,
    SSLConnection,
    parse_url,
    )
from redis.exceptions import (
    AuthenticationError,
    ConnectionError as RedisConnectionError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TimeoutError as RedisTimeoutError,
    )
from redis.retry import Retry
from redis.sentinel import (
    MasterNotFoundError,
    Sentinel,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
    )

log = logging.getLogger(__name__)

#: Where sessions live unless TUTORIAL_REDIS_URL or the setting say.
DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0'
REDIS_URL_ENV = 'TUTORIAL_REDIS_URL'
REDIS_URL_SETTING = 'tutorial.redis_url'

#: How long a command may wait for Redis before the page says 503.
REDIS_TIMEOUT = 1.0
#: After Redis failed, how long requests get the 503 at once before one
#: of them asks Redis again.
REDIS_PAUSE = 0.5

#: What the store raises when Redis cannot keep sessions: redis-py's
#: errors, and its cluster client's, which are not all RedisErrors.
STORE_ERRORS = (RedisError, RedisClusterException)

#: The replies by which a node says it cannot serve this write now: it is
#: a replica (a failover demoted it), still loading its data, cut off from
#: its primary, or its cluster is moving or down.
FAILOVER_REPLIES = ('READONLY', 'LOADING', 'MASTERDOWN', 'TRYAGAIN',
                    'CLUSTERDOWN')


def setting(settings, name, env, environ=os.environ):
    """The environment's value for a setting, else the ini file's."""
    return environ.get(env) or settings.get(name) or ''


def redis_url(settings, environ=os.environ):
    """The Redis server: the environment's, else the setting, else local."""
    return (setting(settings, REDIS_URL_SETTING, REDIS_URL_ENV, environ)
            or DEFAULT_REDIS_URL)


def url_source(settings, environ=os.environ):
    """The name of what gave the URL, for messages about it."""
    if environ.get(REDIS_URL_ENV):
        return REDIS_URL_ENV
    if settings.get(REDIS_URL_SETTING):
        return '%s (or %s)' % (REDIS_URL_SETTING, REDIS_URL_ENV)
    return '%s (not set: the default)' % REDIS_URL_ENV


#: Query options whose values are secrets.
SECRET_OPTIONS = ('password', 'ssl_password')


def masked(url):
    """``url`` as it may be logged: its password, if any, is ***."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, host = netloc.rpartition('@')
            netloc = '%s:***@%s' % (userinfo.partition(':')[0], host)
        query = urlencode(
            [(name, '***' if name in SECRET_OPTIONS else value)
             for name, value in parse_qsl(parts.query,
                                          keep_blank_values=True)],
            safe='/*')
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return '(a URL that cannot be read)'


def _secrets_in(url):
    """The password-like strings in ``url``, as written and decoded."""
    try:
        parts = urlsplit(url)
        found = [parts.password] + [
            value for name, value in parse_qsl(parts.query)
            if name in SECRET_OPTIONS]
    except ValueError:
        # not even split: everything between '//' and the last '@'
        found = [url.partition('//')[2].rpartition('@')[0]]
    found = [secret for secret in found if secret]
    return found + [unquote(secret) for secret in found]


def scrubbed(text, url):
    """``text`` with any password from ``url`` replaced by ***."""
    for secret in sorted(_secrets_in(url), key=len, reverse=True):
        text = text.replace(secret, '***')
    return text


def _chain(exc):
    """``exc`` and the errors that led to it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _first_line(exc):
    return str(exc).split('\n')[0][:200]


def is_failover_reply(exc):
    return isinstance(exc, ReadOnlyError) or (
        isinstance(exc, ResponseError)
        and str(exc).split(' ', 1)[0] in FAILOVER_REPLIES)


def cause_of(exc):
    """What went wrong with Redis, in a few words: from ``exc`` and the
    errors behind it (redis-py raises its own, over the socket's)."""
    if isinstance(exc, StoreResting):
        return exc.cause
    chain = list(_chain(exc))
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            return 'TLS: the server certificate did not verify (%s)' \
                % error.verify_message
    if isinstance(exc, AuthenticationError) \
            or str(exc).startswith(('WRONGPASS', 'NOAUTH')):
        return 'authentication failed (%s)' % _first_line(exc)
    if isinstance(exc, MasterNotFoundError):
        return ('no sentinel names a master for it now (a failover under '
                'way, or a service name they do not watch)')
    if is_failover_reply(exc):
        if isinstance(exc, ReadOnlyError):
            return 'the node is a read-only replica now (READONLY)'
        return 'the node cannot take writes now (%s)' \
            % str(exc).split(' ', 1)[0]
    for error in chain:
        if isinstance(error, ssl.SSLError):
            return 'TLS error (%s)' % (error.reason or _first_line(error))
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return 'connection refused'
        if isinstance(error, FileNotFoundError):
            return 'no socket at that path'
        if isinstance(error, socket.gaierror):
            return 'host name not found'
        if isinstance(error, ConnectionResetError):
            return 'connection reset by the server'
    if any(isinstance(error, (RedisTimeoutError, TimeoutError))
           for error in chain):
        return 'Redis did not answer within %g s' % REDIS_TIMEOUT
    if 'closed by server' in str(exc):
        return 'connection closed by the server'
    return '%s: %s' % (type(exc).__name__, _first_line(exc))


class StoreResting(RedisConnectionError):
    """Raised at once, for a moment after Redis failed, with its cause."""

    def __init__(self, cause):
        super().__init__('Redis failed a moment ago (%s); it is asked '
                         'again shortly' % cause)
        self.cause = cause


class Breaker:
    """Remembers for a moment that Redis failed, and why.

    Without it, while Redis hangs every request waits out its own timeout,
    and the server's few threads queue behind each other. With it, once a
    command has failed, requests get the 503 at once for REDIS_PAUSE; then
    one request asks Redis again while the others still get the 503, and
    the first answer from Redis lets everyone through.
    """

    def __init__(self, timeout=REDIS_TIMEOUT, pause=REDIS_PAUSE):
        self.timeout = timeout
        self.pause = pause
        self.lock = threading.Lock()
        self.next_try = 0.0  # 0: Redis answered last time
        self.asking = None  # the thread that asks Redis again
        self.cause = None

    def before(self):
        if not self.next_try or self.asking == threading.get_ident():
            return
        with self.lock:
            now = time.monotonic()
            if not self.next_try:
                return
            if now < self.next_try:
                raise StoreResting(self.cause)
            # this thread asks; the others wait for what it learns
            self.next_try = now + self.timeout + self.pause
            self.asking = threading.get_ident()

    def failed(self, exc):
        with self.lock:
            self.next_try = time.monotonic() + self.pause
            self.asking = None
            self.cause = cause_of(exc)

    def answered(self):
        if self.next_try:
            with self.lock:
                self.next_try = 0.0
                self.asking = None


class Breakers:
    """A Breaker for each server that connections reach: the one endpoint,
    a sentinel's master of the moment, each node of a cluster. A node that
    hangs then costs only the sessions it holds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_address = {}

    def of(self, connection):
        address = (getattr(connection, 'host', None),
                   getattr(connection, 'port', None),
                   getattr(connection, 'path', None))
        breaker = self.by_address.get(address)
        if breaker is None:
            with self.lock:
                breaker = self.by_address.setdefault(address, Breaker())
        return breaker


def through(breaker, call, *args, **kwargs):
    """``call(*args, **kwargs)``, if ``breaker`` lets it through; a failure
    to reach Redis is the breaker's to remember."""
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
    says the node cannot take writes drops the connection, so that the
    next request connects afresh (behind one endpoint, to the new
    primary)."""

    #: set on each client's own class (with_breakers): redis-py's cluster
    #: client hands its nodes' connections only the options it knows
    breakers = None

    # redis-py connects from the pool, and again before sending when the
    # connection was closed: both come through here.
    def connect_check_health(self, *args, **kwargs):
        return through(self.breakers.of(self), super().connect_check_health,
                       *args, **kwargs)

    def send_packed_command(self, *args, **kwargs):
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
                self.disconnect()
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


class WrongTypeIsNoSession:
    """A session id naming a key of another type (a list, a hash) reads as
    no session, so a new one starts instead of an error."""

    def get(self, name):
        try:
            return super().get(name)
        except ResponseError as e:
            if str(e).startswith('WRONGTYPE'):
                return None
            raise


class SessionRedis(WrongTypeIsNoSession, Redis):
    """The session store's client of one endpoint, or of a sentinel's
    master."""


class SessionRedisCluster(WrongTypeIsNoSession, RedisCluster):
    """The session store's client of a cluster. pyramid_session_redis
    makes a new session in a pipeline that WATCHes its key; the cluster
    client takes WATCH only in a transaction, which its pipelines are not
    by default. A session's commands all name its one key, so one slot:
    a transaction is what they need."""

    def pipeline(self, transaction=True, shard_hint=None):
        return super().pipeline(transaction=transaction,
                                shard_hint=shard_hint)


#: How every connection of the store behaves, whatever its kind.
TIMEOUTS = {
    'socket_timeout': REDIS_TIMEOUT,
    'socket_connect_timeout': REDIS_TIMEOUT,
}
#: redis-py retries three times by default, with pauses between: once is
#: the Breaker's. (The cluster client takes this for itself, and makes
#: its nodes' connections retry nothing.)
NO_RETRY = Retry(NoBackoff(), 0)

SENTINELS_ENV = 'TUTORIAL_REDIS_SENTINELS'
SERVICE_ENV = 'TUTORIAL_REDIS_SERVICE'
CLUSTER_ENV = 'TUTORIAL_REDIS_CLUSTER'


def refuse(settings, url, problem):
    """Stop the app with one line naming the setting and the problem."""
    raise SystemExit(scrubbed('tutorial: %s is %s: %s' % (
        url_source(settings), masked(url), problem), url))


def redis_topology(settings):
    """Where the sessions are: 'endpoint', 'sentinel' or 'cluster'."""
    sentinels = setting(settings, 'tutorial.redis_sentinels', SENTINELS_ENV)
    cluster = setting(settings, 'tutorial.redis_cluster', CLUSTER_ENV)
    if sentinels and asbool(cluster):
        raise SystemExit('tutorial: %s and %s both set: Redis is reached '
                         'through sentinels or as a cluster, not both'
                         % (SENTINELS_ENV, CLUSTER_ENV))
    if sentinels:
        return 'sentinel'
    return 'cluster' if asbool(cluster) else 'endpoint'


def read_url(settings, url):
    """What redis-py's from_url reads in ``url``; one line if it cannot."""
    try:
        return parse_url(url)
    except (ValueError, TypeError, RedisError) as e:
        refuse(settings, url, 'redis-py cannot read it (%s)'
               % _first_line(e))


def endpoint_client(settings, url, options):
    """A client of the URL's server, on the connection class redis-py
    picks for it (TCP, TLS or unix socket), with a Breaker before it."""
    # (read_url has read the URL already; redis-py makes connections, and
    # meets options it cannot use, only when first asked: check_at_start)
    client = SessionRedis.from_url(
        url, connection_class=with_breakers(
            options.get('connection_class', Connection)),
        retry=NO_RETRY, **TIMEOUTS)
    return lambda: client


def sentinel_addresses(settings):
    """The sentinels, as (host, port) pairs; one line if one is not."""
    text = setting(settings, 'tutorial.redis_sentinels', SENTINELS_ENV)
    addresses = []
    for pair in text.split():
        host, _, port = pair.rpartition(':')
        if not (host and port.isdigit() and 0 < int(port) < 65536):
            raise SystemExit('tutorial: %s names %r, which is not host:port'
                             % (SENTINELS_ENV, pair))
        addresses.append((host.strip('[]'), int(port)))
    return addresses


def sentinel_client(settings, url, options):
    """A client of the master that the sentinels name for the service;
    the URL gives the user, password, TLS options and database of the
    data nodes (its host and port are not used)."""
    service = setting(settings, 'tutorial.redis_service', SERVICE_ENV)
    if not service:
        raise SystemExit('tutorial: %s names the sentinels, and %s must '
                         "name the master they watch (as in 'sentinel "
                         "monitor NAME ...')" % (SENTINELS_ENV, SERVICE_ENV))
    connection_class = options.pop('connection_class', Connection)
    if not issubclass(connection_class, (Connection, SSLConnection)):
        refuse(settings, url, 'sentinels name masters by host and port, '
               'so the URL must be redis:// or rediss://')
    for name in ('host', 'port'):
        options.pop(name, None)
    tls = issubclass(connection_class, SSLConnection)
    managed = SentinelManagedSSLConnection if tls \
        else SentinelManagedConnection
    # Where the data nodes speak TLS, so do the sentinels (tls-replication
    # makes a sentinel speak it to the other sentinels too): they are asked
    # with the URL's ssl_* options; otherwise over plain TCP.
    sentinel_options = dict(TIMEOUTS)
    if tls:
        sentinel_options['ssl'] = True
        sentinel_options.update((name, value) for name, value
                                in options.items() if name.startswith('ssl_'))
    sentinel = Sentinel(sentinel_addresses(settings),
                        sentinel_kwargs=sentinel_options)
    client = sentinel.master_for(
        service, redis_class=SessionRedis,
        connection_class=with_breakers(managed), retry=NO_RETRY,
        **TIMEOUTS, **options)
    return lambda: client


class ClusterClient:
    """The cluster client, made when first asked for: RedisCluster asks a
    node for the cluster's map as it is made, and a cluster that is not
    up yet should cost 503s, not the app's start."""

    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()
        self.client = None

    def __call__(self):
        if self.client is None:
            with self.lock:
                if self.client is None:
                    self.client = SessionRedisCluster.from_url(
                        self.url, connection_pool_class=breaker_pool_class(),
                        # one more try, where the map of the cluster is
                        # asked again: a failover moves slots
                        retry=Retry(NoBackoff(), 1), **TIMEOUTS)
        return self.client


def cluster_client(settings, url, options):
    """A client of the cluster the URL names one node of."""
    connection_class = options.get('connection_class', Connection)
    if not issubclass(connection_class, (Connection, SSLConnection)):
        refuse(settings, url, 'a cluster is reached by host and port, so '
               'the URL must be redis:// or rediss://')
    if options.get('db', 0) != 0:
        refuse(settings, url, 'a cluster has only database 0')
    return ClusterClient(url)


TOPOLOGIES = {
    'endpoint': endpoint_client,
    'sentinel': sentinel_client,
    'cluster': cluster_client,
}


def _speaks_tls(host, port):
    """Whether host:port completes a TLS handshake (the server's
    certificate is not checked: this only asks what the port speaks)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), REDIS_TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname=host):
                return True
    except (OSError, ssl.SSLError):
        return False


def _speaks_plain_redis(host, port):
    """Whether host:port answers a plain PING the way Redis does."""
    try:
        with socket.create_connection((host, port), REDIS_TIMEOUT) as s:
            s.sendall(b'PING\r\n')
            return s.recv(16)[:1] in (b'+', b'-')
    except OSError:
        return False


def _wants_certificate(chain, options):
    """Whether the errors are how a TLS server that wants a client
    certificate, and got none, ends the connection: TLS 1.3's alert, or,
    by the OpenSSL in use, an end of file or a reset after the handshake."""
    return 'ssl_certfile' not in options and any(
        isinstance(error, (ssl.SSLEOFError, ConnectionResetError))
        or 'CERTIFICATE_REQUIRED' in str(getattr(error, 'reason', ''))
        for error in chain)


def misconfiguration(exc, options, probe=True):
    """What about the URL keeps it from ever working, or None when Redis
    may only be down or not reachable yet. With ``probe``, the URL's host
    and port are asked what they speak, plain Redis or TLS."""
    chain = list(_chain(exc))
    if isinstance(exc, AuthenticationError) \
            or str(exc).startswith(('WRONGPASS', 'NOAUTH')):
        return 'Redis refused its user name or password (%s)' \
            % _first_line(exc)
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            return ('the server\'s TLS certificate does not verify (%s): '
                    'name the authority that signed it in ssl_ca_certs'
                    % error.verify_message)
    connection_class = options.get('connection_class', Connection)
    host, port = options.get('host', 'localhost'), options.get('port', 6379)
    if not probe:
        pass
    elif issubclass(connection_class, SSLConnection):
        if not any(isinstance(e, ssl.SSLError) for e in chain) \
                and _speaks_plain_redis(host, port):
            return ('it speaks TLS (rediss://) to a port that speaks plain '
                    'Redis: use redis://')
        if _wants_certificate(chain, options) and _speaks_tls(host, port):
            return ('the server ended the connection after the TLS '
                    'handshake (%s): it may want a client certificate '
                    '(ssl_certfile and ssl_keyfile)' % cause_of(exc))
    elif connection_class is Connection:
        if any(isinstance(e, (ConnectionResetError, RedisConnectionError))
               for e in chain) and _speaks_tls(host, port):
            return ('it speaks plain Redis (redis://) to a port that speaks '
                    'TLS: use rediss://')
    for error in chain:
        if isinstance(error, ssl.SSLError):
            hint = ''
            if _wants_certificate(chain, options):
                hint = (': the server may want a client certificate '
                        '(ssl_certfile and ssl_keyfile)')
            return 'TLS failed (%s)%s' % (
                error.reason or _first_line(error), hint)
    if 'Invalid Database' in str(exc):
        return 'Redis has no such database (%s)' % _first_line(exc)
    if not isinstance(exc, (RedisConnectionError, RedisTimeoutError,
                            RedisClusterException)):
        return 'redis-py cannot use it (%s)' % _first_line(exc)
    return None


def check_at_start(settings, get_client, url, options, probe=True):
    """Ask Redis once: stop on a URL that cannot work; warn if Redis is
    only not answering yet."""
    try:
        get_client().ping()
    except TypeError as e:
        # redis-py makes the connection only now, and a connection class
        # refuses options it does not take (ssl_* on a redis:// URL)
        hint = ': ssl_* options need a rediss:// URL' \
            if 'ssl' in str(e) and not url.startswith('rediss:') else ''
        refuse(settings, url, 'redis-py cannot use it (%s)%s'
               % (_first_line(e), hint))
    except STORE_ERRORS as e:
        problem = misconfiguration(e, options, probe)
        if problem:
            refuse(settings, url, problem)
        log.warning(scrubbed(
            'Redis at %s (%s) is not answering yet (%s): pages answer 503 '
            'until it does' % (masked(url), url_source(settings),
                               cause_of(e)), url))


def redis_client(settings):
    """A function that returns the store's Redis client (checked once
    against the server), and where Redis is, as it may be logged."""
    url = redis_url(settings)
    topology = redis_topology(settings)
    options = read_url(settings, url)
    get_client = TOPOLOGIES[topology](settings, url, dict(options))
    # the URL's host is the one to ask, but for sentinels'
    check_at_start(settings, get_client, url, options,
                   probe=topology != 'sentinel')
    where = masked(url)
    if topology == 'sentinel':
        where = 'the master %r of the sentinels %s' % (
            setting(settings, 'tutorial.redis_service', SERVICE_ENV),
            ' '.join('%s:%d' % a for a in sentinel_addresses(settings)))
    elif topology == 'cluster':
        where = 'the cluster of ' + where
    return get_client, where


class FailureLog:
    """Logs why sessions are unavailable: a cause's first failure at once,
    then at most one line a cause each ``interval`` seconds, saying how
    many it stands for, so that a Redis down under load is a few lines,
    not one a request."""

    def __init__(self, where, interval=10):
        self.where = where
        self.interval = interval
        self.lock = threading.Lock()
        self.seen = {}  # cause: (when the next line may be logged, held)

    def failed(self, exc):
        cause = cause_of(exc)
        now = time.monotonic()
        with self.lock:
            next_time, held = self.seen.get(cause, (0.0, 0))
            if now < next_time:
                self.seen[cause] = (next_time, held + 1)
                return
            self.seen[cause] = (now + self.interval, 0)
        if held:
            log.warning('sessions unavailable: Redis at %s: %s (and %d more '
                        'such in %d s)', self.where, cause, held,
                        self.interval)
        else:
            log.warning('sessions unavailable: Redis at %s: %s',
                        self.where, cause)
