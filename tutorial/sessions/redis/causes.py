"""What went wrong with Redis, named in a few words.

redis-py raises its own errors over the socket's or TLS's, so each cause
is read from the whole chain. The same words serve the start-up refusals,
the log and the 503's log line: a failure is named for what it is
(refused, timed out, wrong password, read-only replica, certificate),
never shown as a traceback.
"""
import re
import socket
import ssl

from redis.exceptions import (
    AuthenticationError,
    ConnectionError as RedisConnectionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TimeoutError as RedisTimeoutError,
    )
from redis.sentinel import MasterNotFoundError

from .timeouts import REDIS_TIMEOUT

#: What the store raises when Redis cannot keep sessions: redis-py's
#: errors, and its cluster client's, which are not all RedisErrors.
STORE_ERRORS = (RedisError, RedisClusterException)

#: The replies by which a node says it cannot serve this write now: it is
#: a replica (a failover demoted it), still loading its data, cut off from
#: its primary, or its cluster is moving or down.
FAILOVER_REPLIES = ('READONLY', 'LOADING', 'MASTERDOWN', 'TRYAGAIN',
                    'CLUSTERDOWN')


class StoreResting(RedisConnectionError):
    """Raised at once, while a breaker is open, with the cause it saw."""

    def __init__(self, cause):
        super().__init__('Redis failed a moment ago (%s); it is asked '
                         'again shortly' % cause)
        self.cause = cause


class SessionBusy(RedisError):
    """A session's lock stayed taken too long (commands.py): its other
    requests are slow, or one died holding it. Or, at once, another of
    its requests already waits for the lock in this process: the
    session's own flood cannot take every thread."""


def chain(exc):
    """``exc`` and the errors that led to it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


#: How redis-py quotes the command a pipeline failed on: never logged,
#: since the command names the session's key.
PIPELINE_ERROR = re.compile(r'^Command # \d+ \(.*\) of pipeline caused '
                            r'error: ', re.S)


def first_line(exc):
    """The error's message, without the command redis-py quotes."""
    return PIPELINE_ERROR.sub('', str(exc)).split('\n')[0][:200]


def is_auth_failure(exc):
    return isinstance(exc, AuthenticationError) \
        or str(exc).startswith(('WRONGPASS', 'NOAUTH'))


def is_failover_reply(exc):
    return isinstance(exc, ReadOnlyError) or (
        isinstance(exc, ResponseError)
        and str(exc).split(' ', 1)[0] in FAILOVER_REPLIES)


def cause_of(exc):
    """What went wrong with Redis, in a few words: from ``exc`` and the
    errors behind it (redis-py raises its own, over the socket's)."""
    if isinstance(exc, StoreResting):
        return exc.cause
    if isinstance(exc, SessionBusy):
        return 'the session is busy (%s)' % first_line(exc)
    if isinstance(exc, OutOfMemoryError):
        return ('Redis is out of memory (maxmemory with policy noeviction): '
                'give sessions a policy that evicts, such as volatile-ttl')
    errors = list(chain(exc))
    for error in errors:
        if isinstance(error, ssl.SSLCertVerificationError):
            return 'TLS: the server certificate did not verify (%s)' \
                % error.verify_message
    if is_auth_failure(exc):
        return 'authentication failed (%s)' % first_line(exc)
    if isinstance(exc, MasterNotFoundError):
        return ('no sentinel names a master for it now (a failover under '
                'way, or a service name they do not watch)')
    if is_failover_reply(exc):
        if isinstance(exc, ReadOnlyError):
            return 'the node is a read-only replica now (READONLY)'
        return 'the node cannot take writes now (%s)' \
            % str(exc).split(' ', 1)[0]
    for error in errors:
        if isinstance(error, ssl.SSLError):
            return 'TLS error (%s)' % (error.reason or first_line(error))
    for error in errors:
        if isinstance(error, ConnectionRefusedError):
            return 'connection refused'
        if isinstance(error, FileNotFoundError):
            return 'no socket at that path'
        if isinstance(error, socket.gaierror):
            return 'host name not found'
        if isinstance(error, ConnectionResetError):
            return 'connection reset by the server'
    if any(isinstance(error, (RedisTimeoutError, TimeoutError))
           for error in errors):
        return 'Redis did not answer within %g s' % REDIS_TIMEOUT
    if 'closed by server' in str(exc):
        return 'connection closed by the server'
    return '%s: %s' % (type(exc).__name__, first_line(exc))
