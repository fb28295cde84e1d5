"""Beyond the step: what a proxy in front says about a request, believed
from that proxy alone.

waitress does this itself (its trusted_proxy settings); uWSGI does not,
so this WSGI middleware does it for production, taking waitress's
settings by the same names, from [server:main]. (waitress's own
proxy_headers_middleware answers a forwarded header it cannot read with
a plain-text 400 of its own, without the app's page or security headers;
this one answers with the app's.)

- ``trusted_proxy``: the proxy's addresses, separated by spaces
  (TUTORIAL_TRUSTED_PROXY, if set, instead);
- ``trusted_proxy_count``: how many proxies stand in front, each adding
  one address to X-Forwarded-For;
- ``trusted_proxy_headers``: which of X-Forwarded-Proto, -Host and -For
  are believed from it;
- ``clear_untrusted_proxy_headers``: every other forwarded header is
  removed, from anyone, before the app sees the request.

A client's ``X-Forwarded-Host: evil.example`` then changes no URL and no
redirect, and a forwarded header that cannot be read gets a 400.
"""
import ipaddress
import os

from ..config.settings import (
    bool_setting,
    int_setting,
    refuse,
    setting,
    words_setting,
    )
from ..pages.errors import html_response, message_page
from ..security.headers import add_security_headers, security_headers

#: Every forwarded header: the ones a proxy may be trusted with, and the
#: others, which are only ever removed.
TRUSTABLE = ('x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-for')
FORWARDED = TRUSTABLE + ('forwarded', 'x-forwarded-port', 'x-forwarded-by',
                         'x-real-ip')

#: The proxy's addresses, over the ini file's: a proxy whose address is
#: known only where it runs (a container network's).
TRUSTED_PROXY_ENV = 'TUTORIAL_TRUSTED_PROXY'

BAD_FORWARDED_PAGE = message_page(
    'bad request', 'The proxy sent a header that cannot be read',
    'A forwarded header of this request cannot be read, so nothing was '
    'changed.')


def environ_key(header):
    return 'HTTP_' + header.upper().replace('-', '_')


class ProxyHeaders:
    """WSGI middleware: the forwarded headers of ``trusted`` addresses
    believed (``believed``, the header names), and the rest removed."""

    def __init__(self, app, trusted, believed, count=1, clear=True):
        self.app = app
        self.headers = security_headers(app.registry)
        self.trusted = frozenset(trusted)
        self.count = count
        self.believed = tuple(believed)
        self.removed = tuple(environ_key(h) for h in FORWARDED) \
            if clear else ()

    def __call__(self, environ, start_response):
        headers = {}
        if environ.get('REMOTE_ADDR') in self.trusted:
            headers = {h: environ.get(environ_key(h)) for h in self.believed}
        for key in self.removed:
            environ.pop(key, None)
        try:
            self.believe(environ, headers)
        except ValueError:
            response = add_security_headers(
                html_response(BAD_FORWARDED_PAGE, 400), self.headers)
            return response(environ, start_response)
        return self.app(environ, start_response)

    def believe(self, environ, headers):
        proto = headers.get('x-forwarded-proto')
        if proto is not None:
            proto = proto.strip().lower()
            if proto not in ('http', 'https'):
                raise ValueError(proto)
            environ['wsgi.url_scheme'] = proto
            environ['SERVER_PORT'] = '443' if proto == 'https' else '80'
        host = headers.get('x-forwarded-host')
        if host is not None:
            host = host.split(',')[-1].strip()
            if not host:
                raise ValueError(host)
            environ['HTTP_HOST'] = host
            name, _, port = host.rpartition(':') if \
                not host.endswith(']') else (host, '', '')
            if port.isdigit():
                environ['SERVER_NAME'], environ['SERVER_PORT'] = name, port
            else:
                environ['SERVER_NAME'] = host
        forwarded_for = headers.get('x-forwarded-for')
        if forwarded_for is not None:
            addresses = [a.strip() for a in forwarded_for.split(',')]
            if len(addresses) < self.count or not all(addresses):
                raise ValueError(forwarded_for)
            client = addresses[-self.count].strip('[]')
            ipaddress.ip_address(client)  # ValueError if it is not one
            environ['REMOTE_ADDR'] = client


def proxy_settings(server_settings, environ=os.environ):
    """ProxyHeaders' arguments from [server:main]'s settings, checked:
    one line for a value that cannot work."""
    trusted = setting(server_settings, 'trusted_proxy', TRUSTED_PROXY_ENV,
                      environ=environ).split()
    believed = [header.lower() for header in words_setting(
        server_settings, 'trusted_proxy_headers')]
    for header in believed:
        if header not in TRUSTABLE:
            refuse('[server:main] trusted_proxy_headers names %r; it may '
                   'name: %s', header, ' '.join(TRUSTABLE))
    for address in trusted:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            refuse('[server:main] trusted_proxy (or %s) names %r, which is '
                   'not an IP address', TRUSTED_PROXY_ENV, address)
    count = int_setting(server_settings, 'trusted_proxy_count', default=1,
                        minimum=1)
    clear = bool_setting(server_settings, 'clear_untrusted_proxy_headers',
                         default=True)
    return {'trusted': trusted, 'believed': believed if trusted else (),
            'count': count, 'clear': clear}
