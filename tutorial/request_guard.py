"""Beyond the step: requests the app should not read get a 400 page.

A request for a host the app does not serve is refused before anything
else: otherwise its Host header comes back in every absolute URL the app
builds (WebOb makes even a relative redirect absolute), and a DNS name
that points here could reach a development server (DNS rebinding).

WebOb decodes a request's path, query and form as UTF-8 when the app first
reads them, and raises where they are not; Pyramid then answers 500. This
tween looks first: a path, query or form that cannot be read gets a short
400 page and one line in the log. A cookie that cannot be read is dropped
instead, so that a stray cookie set by a neighbouring page does not cost
the visitor the session cookie beside it.
"""
import logging
import os
import re

from pyramid.tweens import INGRESS
from webob.cookies import parse_cookie

from .pages import html_response, message_page

log = logging.getLogger(__name__)

#: The hosts the app serves unless ``tutorial.allowed_hosts`` names
#: others; the environment variable adds to them (production.ini).
DEFAULT_ALLOWED_HOSTS = 'localhost 127.0.0.1 [::1]'
ALLOWED_HOSTS_ENV = 'TUTORIAL_ALLOWED_HOSTS'

#: The content types whose bodies WebOb parses into ``request.POST``.
FORM_TYPES = ('application/x-www-form-urlencoded', 'multipart/form-data')

BAD_REQUEST_PAGE = message_page(
    'request not understood', 'This request could not be understood',
    'Its address or form held characters this site cannot read, so '
    'nothing was changed.')
UNKNOWN_HOST_PAGE = message_page(
    'unknown host', 'This site is not served at that address',
    'The address named a host this site does not answer for, so nothing '
    'was changed.')


def allowed_hosts(settings, environ=os.environ):
    """The host names the app answers for, and the domains (written with a
    leading dot, as '.example.org') whose subdomains it answers for."""
    names = (settings.get('tutorial.allowed_hosts', DEFAULT_ALLOWED_HOSTS)
             .split() + environ.get(ALLOWED_HOSTS_ENV, '').split())
    names = {name.lower().rstrip('.') for name in names}
    domains = tuple(name for name in names if name.startswith('.'))
    hosts = {name for name in names if not name.startswith('.')}
    return frozenset(hosts | {domain[1:] for domain in domains}), domains


#: A Host header: a name or an address, in brackets for IPv6, and a port.
HOST = re.compile(r'(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::[0-9]{1,5})?\Z')


def host_name(host):
    """A Host header's name, without its port ('[::1]:6543' is '[::1]'),
    or '' when it is not a host at all."""
    match = HOST.match(host.lower())
    return match.group(1).rstrip('.') if match else ''


def _is_utf8(latin1):
    """Whether a WSGI string (bytes held as latin-1) is UTF-8 text."""
    if latin1.isascii():
        return True
    try:
        latin1.encode('latin-1').decode('utf-8')
    except UnicodeError:
        return False
    return True


def readable_cookies(header):
    """The Cookie header without the cookies WebOb could not decode."""
    if header.isascii() and '\\' not in header:
        return header  # the common case: nothing to unquote or decode
    kept = []
    for part in header.split(';'):
        try:
            for name, value in parse_cookie(part):
                name.decode('utf-8')
                value.decode('utf-8')
        except UnicodeError:
            continue
        kept.append(part.strip())
    return '; '.join(kept)


def problem_with(request):
    """What in the request cannot be read, or None when all of it can."""
    environ = request.environ
    if not (_is_utf8(environ.get('PATH_INFO', ''))
            and _is_utf8(environ.get('SCRIPT_NAME', ''))):
        return 'the path is not UTF-8'
    if environ.get('QUERY_STRING'):
        if not _is_utf8(environ['QUERY_STRING']):
            return 'the query is not UTF-8'
        try:
            request.GET
        except UnicodeError:
            return 'the query is not UTF-8'
    content_type = request.content_type if environ.get('CONTENT_TYPE') \
        else ''
    # the bodies WebOb parses into request.POST, when something reads it
    if content_type in FORM_TYPES \
            or (not content_type and request.method == 'POST'):
        if request.charset != 'UTF-8':
            return 'the form is declared as %.40r, not UTF-8' % request.charset
        try:
            request.POST
        except (ValueError, LookupError, UnicodeError) as e:
            # ValueError: multipart framing WebOb cannot follow
            return 'the form cannot be read (%s)' % type(e).__name__
    return None


def request_guard_tween_factory(handler, registry):
    hosts, domains = allowed_hosts(registry.settings)

    def request_guard_tween(request):
        environ = request.environ
        host = environ.get('HTTP_HOST')
        # no Host header (HTTP/1.0): WebOb uses the server's own name
        if host is not None and host not in hosts:
            name = host_name(host)
            if name not in hosts \
                    and not (domains and name.endswith(domains)):
                log.warning('400 Bad Request for host %.100r: not in '
                            'tutorial.allowed_hosts', host)
                return html_response(UNKNOWN_HOST_PAGE, 400)
        cookies = environ.get('HTTP_COOKIE')
        if cookies:
            environ['HTTP_COOKIE'] = readable_cookies(cookies)
        problem = problem_with(request)
        if problem is None:
            return handler(request)
        log.warning('400 Bad Request for %s %.200r: %s', request.method,
                    environ.get('PATH_INFO', ''), problem)
        return html_response(BAD_REQUEST_PAGE, 400)
    return request_guard_tween


def includeme(config):
    # Outermost but for the security headers, so that nothing below (the
    # debug toolbar included) reads the request before it has been looked
    # at, and its 400 pages get the headers too.
    config.add_tween(
        'tutorial.request_guard.request_guard_tween_factory',
        under=('tutorial.security_headers.security_headers_tween_factory',
               INGRESS))
