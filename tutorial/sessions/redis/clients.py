"""The store's Redis client, built by redis-py for the topology named.

- One endpoint (TUTORIAL_REDIS_URL, in any form ``from_url`` reads):
  redis-py picks the connection class for the URL (TCP, TLS, unix
  socket), and a Breaker is put before it.
- Sentinel (TUTORIAL_REDIS_SENTINELS and TUTORIAL_REDIS_SERVICE):
  ``redis.sentinel.Sentinel`` finds the master, and the new one after a
  failover; the URL then gives only the data nodes' user, password, TLS
  options and database.
- Cluster (TUTORIAL_REDIS_CLUSTER=yes): the URL names one node, and
  ``redis.cluster.RedisCluster`` finds the others.
"""
import threading

from redis import Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.connection import Connection, SSLConnection
from redis.retry import Retry
from redis.sentinel import (
    Sentinel,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
    )

from .breaker import breaker_pool_class, with_breakers
from .commands import SessionCommands, takes_locks
from .redaction import masked
from .startup import check_at_start
from .timeouts import TIMEOUTS
from .topology import (
    read_url,
    redis_topology,
    redis_url,
    refuse_url,
    sentinel_addresses,
    sentinel_service,
    )

#: redis-py retries three times by default, with pauses between: once is
#: the Breaker's. (The cluster client takes this for itself, and makes
#: its nodes' connections retry nothing.)
NO_RETRY = Retry(NoBackoff(), 0)


class SessionRedis(SessionCommands, Redis):
    """The session store's client of one endpoint, or of a sentinel's
    master."""


class SessionRedisCluster(SessionCommands, RedisCluster):
    """The session store's client of a cluster. pyramid_session_redis
    makes a new session in a pipeline that WATCHes its key; the cluster
    client takes WATCH only in a transaction, which its pipelines are not
    by default. A session's commands all name its one key, so one slot:
    a transaction is what they need."""

    pipelines_run_scripts = False

    def pipeline(self, transaction=True, shard_hint=None):
        return super().pipeline(transaction=transaction,
                                shard_hint=shard_hint)


def endpoint_client(settings, url, options):
    """A client of the URL's server, on the connection class redis-py
    picks for it (TCP, TLS or unix socket), with a Breaker before it."""
    # redis-py makes connections, and meets options it cannot use, only
    # when first asked: check_at_start asks
    client = SessionRedis.from_url(
        url, connection_class=with_breakers(
            options.get('connection_class', Connection)),
        retry=NO_RETRY, **TIMEOUTS)
    return lambda: client


def sentinel_client(settings, url, options):
    """A client of the master that the sentinels name for the service;
    the URL gives the user, password, TLS options and database of the
    data nodes (its host and port are not used)."""
    service = sentinel_service(settings)
    connection_class = options.pop('connection_class', Connection)
    if not issubclass(connection_class, (Connection, SSLConnection)):
        refuse_url(settings, url, 'sentinels name masters by host and '
                   'port, so the URL must be redis:// or rediss://')
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
        refuse_url(settings, url, 'a cluster is reached by host and '
                   'port, so the URL must be redis:// or rediss://')
    if options.get('db', 0) != 0:
        refuse_url(settings, url, 'a cluster has only database 0')
    return ClusterClient(url)


def with_lock_setting(get_client, lock):
    """``get_client``, its client told whether sessions are locked."""
    def locked_or_not():
        client = get_client()
        client.session_lock = lock
        return client
    return locked_or_not


TOPOLOGIES = {
    'endpoint': endpoint_client,
    'sentinel': sentinel_client,
    'cluster': cluster_client,
}


def redis_client(settings):
    """A function that returns the store's Redis client (checked once
    against the server), and where Redis is, as it may be logged."""
    url = redis_url(settings)
    topology = redis_topology(settings)
    options = read_url(settings, url)
    get_client = TOPOLOGIES[topology](settings, url, dict(options))
    get_client = with_lock_setting(get_client, takes_locks(settings))
    # the URL's host is the one to ask, but for sentinels'
    check_at_start(settings, get_client, url, options,
                   probe=topology != 'sentinel')
    where = masked(url)
    if topology == 'sentinel':
        where = 'the master %r of the sentinels %s' % (
            sentinel_service(settings),
            ' '.join('%s:%d' % a for a in sentinel_addresses(settings)))
    elif topology == 'cluster':
        where = 'the cluster of ' + where
    return get_client, where
