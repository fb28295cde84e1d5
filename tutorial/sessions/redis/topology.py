"""Where Redis is: the URL, the topology, the sentinels, and the refusal
of a URL that cannot work, in one line that never shows its password."""
import os

from redis.connection import parse_url
from redis.exceptions import RedisError

from ...config.settings import (
    bool_setting,
    environment_setting,
    host_and_port,
    refuse as refuse_setting,
    setting,
    )
from .causes import first_line
from .redaction import masked, scrubbed

#: Where sessions live unless TUTORIAL_REDIS_URL or the setting say.
DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0'
REDIS_URL_ENV = 'TUTORIAL_REDIS_URL'
REDIS_URL_SETTING = 'tutorial.redis_url'

SENTINELS_ENV = 'TUTORIAL_REDIS_SENTINELS'
SERVICE_ENV = 'TUTORIAL_REDIS_SERVICE'
CLUSTER_ENV = 'TUTORIAL_REDIS_CLUSTER'


def redis_url(settings, environ=os.environ):
    """The Redis server: the environment's (a password in it may come
    from a file, TUTORIAL_REDIS_URL_FILE), else the setting, else local."""
    return redis_url_and_source(settings, environ)[0]


def url_source(settings, environ=os.environ):
    """The name of what gave the URL, for messages about it."""
    return redis_url_and_source(settings, environ)[1]


def redis_url_and_source(settings, environ=os.environ):
    """The URL, read by the settings reader, and what gave it."""
    url = environment_setting(REDIS_URL_ENV, environ).strip()
    if url:
        return url, REDIS_URL_ENV if environ.get(REDIS_URL_ENV) \
            else '%s (from %s_FILE)' % (REDIS_URL_ENV, REDIS_URL_ENV)
    url = setting(settings, REDIS_URL_SETTING)
    if url:
        return url, '%s (or %s)' % (REDIS_URL_SETTING, REDIS_URL_ENV)
    return DEFAULT_REDIS_URL, '%s (not set: the default)' % REDIS_URL_ENV


def refuse_url(settings, url, problem):
    """Stop the app with one line naming the setting and the problem."""
    refuse_setting(scrubbed('%s is %s: %s' % (
        url_source(settings), masked(url), problem), url))


def read_url(settings, url):
    """What redis-py's from_url reads in ``url``; one line if it cannot."""
    try:
        return parse_url(url)
    except (ValueError, TypeError, RedisError) as e:
        refuse_url(settings, url,
                   'redis-py cannot read it (%s)' % first_line(e))


def redis_topology(settings):
    """Where the sessions are: 'endpoint', 'sentinel' or 'cluster'."""
    sentinels = setting(settings, 'tutorial.redis_sentinels', SENTINELS_ENV)
    cluster = bool_setting(settings, 'tutorial.redis_cluster', CLUSTER_ENV)
    if sentinels and cluster:
        refuse_setting('%s and %s both set: Redis is reached through '
                       'sentinels or as a cluster, not both',
                       SENTINELS_ENV, CLUSTER_ENV)
    if sentinels:
        return 'sentinel'
    return 'cluster' if cluster else 'endpoint'


def sentinel_service(settings):
    """The name of the master the sentinels watch; one line if unset."""
    service = setting(settings, 'tutorial.redis_service', SERVICE_ENV)
    if not service:
        refuse_setting("%s names the sentinels, and %s must name the master "
                       "they watch (as in 'sentinel monitor NAME ...')",
                       SENTINELS_ENV, SERVICE_ENV)
    return service


def sentinel_addresses(settings):
    """The sentinels, as (host, port) pairs; one line if one is not."""
    text = setting(settings, 'tutorial.redis_sentinels', SENTINELS_ENV)
    addresses = []
    for pair in text.split():
        found = host_and_port(pair)
        if found is None:
            refuse_setting('%s names %r, which is not host:port',
                           SENTINELS_ENV, pair)
        addresses.append(found)
    return addresses
