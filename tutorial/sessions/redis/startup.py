"""At start the app asks Redis once.

A URL that cannot work (a wrong password, a certificate that does not
verify, TLS spoken to a plain port or plain to a TLS one, options redis-py
cannot use) stops it with one line; a Redis that is only down gets a
warning, and pages answer 503 until it is back.
"""
import logging
import socket
import ssl

from redis.connection import Connection, SSLConnection
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
    RedisClusterException,
    TimeoutError as RedisTimeoutError,
    )

from .causes import STORE_ERRORS, cause_of, chain, first_line, \
    is_auth_failure
from .redaction import masked, scrubbed
from .topology import refuse_url, url_source
from .timeouts import REDIS_TIMEOUT

log = logging.getLogger(__name__)


def speaks_tls(host, port):
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


def speaks_plain_redis(host, port):
    """Whether host:port answers a plain PING the way Redis does."""
    try:
        with socket.create_connection((host, port), REDIS_TIMEOUT) as s:
            s.sendall(b'PING\r\n')
            return s.recv(16)[:1] in (b'+', b'-')
    except OSError:
        return False


def wants_certificate(errors, options):
    """Whether the errors are how a TLS server that wants a client
    certificate, and got none, ends the connection: TLS 1.3's alert, or,
    by the OpenSSL in use, an end of file or a reset after the handshake."""
    return 'ssl_certfile' not in options and any(
        isinstance(error, (ssl.SSLEOFError, ConnectionResetError))
        or 'CERTIFICATE_REQUIRED' in str(getattr(error, 'reason', ''))
        for error in errors)


def misconfiguration(exc, options, probe=True):
    """What about the URL keeps it from ever working, or None when Redis
    may only be down or not reachable yet. With ``probe``, the URL's host
    and port are asked what they speak, plain Redis or TLS."""
    errors = list(chain(exc))
    if is_auth_failure(exc):
        return 'Redis refused its user name or password (%s)' \
            % first_line(exc)
    for error in errors:
        if isinstance(error, ssl.SSLCertVerificationError):
            return ('the server\'s TLS certificate does not verify (%s): '
                    'name the authority that signed it in ssl_ca_certs'
                    % error.verify_message)
    connection_class = options.get('connection_class', Connection)
    host, port = options.get('host', 'localhost'), options.get('port', 6379)
    if not probe:
        pass
    elif issubclass(connection_class, SSLConnection):
        if not any(isinstance(e, ssl.SSLError) for e in errors) \
                and speaks_plain_redis(host, port):
            return ('it speaks TLS (rediss://) to a port that speaks plain '
                    'Redis: use redis://')
        if wants_certificate(errors, options) and speaks_tls(host, port):
            return ('the server ended the connection after the TLS '
                    'handshake (%s): it may want a client certificate '
                    '(ssl_certfile and ssl_keyfile)' % cause_of(exc))
    elif connection_class is Connection:
        if any(isinstance(e, (ConnectionResetError, RedisConnectionError))
               for e in errors) and speaks_tls(host, port):
            return ('it speaks plain Redis (redis://) to a port that speaks '
                    'TLS: use rediss://')
    for error in errors:
        if isinstance(error, ssl.SSLError):
            hint = ''
            if wants_certificate(errors, options):
                hint = (': the server may want a client certificate '
                        '(ssl_certfile and ssl_keyfile)')
            return 'TLS failed (%s)%s' % (
                error.reason or first_line(error), hint)
    if 'Invalid Database' in str(exc):
        return 'Redis has no such database (%s)' % first_line(exc)
    if not isinstance(exc, (RedisConnectionError, RedisTimeoutError,
                            RedisClusterException)):
        return 'redis-py cannot use it (%s)' % first_line(exc)
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
        refuse_url(settings, url, 'redis-py cannot use it (%s)%s'
                   % (first_line(e), hint))
    except STORE_ERRORS as e:
        problem = misconfiguration(e, options, probe)
        if problem:
            refuse_url(settings, url, problem)
        log.warning(scrubbed(
            'Redis at %s (%s) is not answering yet (%s): pages answer 503 '
            'until it does' % (masked(url), url_source(settings),
                               cause_of(e)), url))
