"""Beyond the step: the tween that looks at a request first. A host the
app does not serve, HTTP/1.1 with no host, and a path, query or form it
cannot read get a 400 page; a body larger than the form could be a 413,
read no further; a cookie that cannot be read is passed over. Each
refusal is one line in the log. docs/bad-input.rst says why, case by
case, and docs/production.rst why hosts are checked."""
import logging
import os
import re
from urllib.parse import urlsplit

from pyramid.tweens import INGRESS
from webob.cookies import RequestCookies, parse_cookie

from ..config.settings import int_setting, words_setting
from ..pages.errors import html_response, message_page

log = logging.getLogger(__name__)

#: The hosts the app serves unless ``tutorial.allowed_hosts`` names
#: others; the environment variable adds to them (production.ini).
DEFAULT_ALLOWED_HOSTS = 'localhost 127.0.0.1 [::1]'
ALLOWED_HOSTS_ENV = 'TUTORIAL_ALLOWED_HOSTS'

#: The largest body read, unless ``tutorial.max_body_size`` names
#: another; the ini files set waitress's max_request_body_size to the same.
DEFAULT_MAX_BODY_SIZE = 16384

#: The content types whose bodies WebOb parses into ``request.POST``.
FORM_TYPES = ('application/x-www-form-urlencoded', 'multipart/form-data')

BAD_REQUEST_PAGE = message_page(
    'request not understood', 'This request could not be understood',
    'Its address or form held characters this site cannot read, so '
    'nothing was changed.')
TOO_LARGE_PAGE = message_page(
    'request too large', 'This request was too large',
    'It carried more than this site takes from a form, so nothing was '
    'changed.')
UNKNOWN_HOST_PAGE = message_page(
    'unknown host', 'This site is not served at that address',
    'The address named a host this site does not answer for, so nothing '
    'was changed.')


def allowed_hosts(settings, environ=os.environ):
    """The host names the app answers for, and the domains (written with a
    leading dot, as '.example.org') whose subdomains it answers for."""
    names = words_setting(settings, 'tutorial.allowed_hosts',
                          ALLOWED_HOSTS_ENV, DEFAULT_ALLOWED_HOSTS,
                          environ)
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


#: Where WebOb keeps the cookies it parsed, in the environ, beside the
#: header they came from; request.cookies reads them from there while the
#: header is the same.
#
# A private name of WebOb's, read (never overridden) because no public
# way does this job: WebOb raises on a cookie it cannot decode, and a
# header rewritten to hold only the good cookies is hard to write without
# changing what it means (a quoted value may hold a ';'). If WebOb renames
# it, this line fails at import; if it changes what it keeps there,
# test_webob_reads_the_cookies_the_guard_hands_it fails.
PARSED_COOKIES = RequestCookies._cache_key


def webob_can_read(header):
    """Whether WebOb decodes every cookie in a Cookie header: it can when
    the header is UTF-8 and has no backslash (a quoted value's octal
    escape, which may stand for any byte)."""
    return '\\' not in header and _is_utf8(header)


def read_cookies(header):
    """The cookies WebOb reads from a Cookie header, as a dict, less the
    ones it could not decode (which would make it raise)."""
    cookies = {}
    for name, value in parse_cookie(header):
        try:
            cookies[name.decode('utf-8')] = value.decode('utf-8')
        except UnicodeError:
            continue
    return cookies


def max_body_size(settings):
    """``tutorial.max_body_size`` in bytes; one line if it is not one."""
    return int_setting(settings, 'tutorial.max_body_size',
                       default=DEFAULT_MAX_BODY_SIZE, unit='bytes')


def body_too_large(request, limit):
    """Whether the body is longer than ``limit`` bytes. Without a
    Content-Length (a chunked body) at most one byte more is read, and what
    was read stands in for the body."""
    if request.content_length is not None:
        return request.content_length > limit
    if not request.is_body_readable:
        return False
    body = request.body_file_raw.read(limit + 1)
    if len(body) > limit:
        return True
    request.body = body
    return False


def problem_with(request, max_body=DEFAULT_MAX_BODY_SIZE):
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
    # (the method from the environ, as WebOb reads it, without its
    # descriptor: most requests come this far)
    if content_type in FORM_TYPES \
            or (not content_type
                and environ.get('REQUEST_METHOD') == 'POST'):
        if request.charset != 'UTF-8':
            return 'the form is declared as %.40r, not UTF-8' % request.charset
        if body_too_large(request, max_body):
            return TOO_LARGE
        try:
            request.POST
        except (ValueError, LookupError, UnicodeError) as e:
            # ValueError: multipart framing WebOb cannot follow
            return 'the form cannot be read (%s)' % type(e).__name__
    return None


#: What problem_with says of a body larger than the limit.
TOO_LARGE = 'the body is larger than tutorial.max_body_size'
STATUS_TEXT = {400: '400 Bad Request', 413: '413 Request Entity Too Large'}


def request_guard_tween_factory(handler, registry):
    hosts, domains = allowed_hosts(registry.settings)
    max_body = max_body_size(registry.settings)

    def request_guard_tween(request):
        environ = request.environ
        host = environ.get('HTTP_HOST')
        target = environ.get('REQUEST_URI')
        if target and target[0] != '/' and '://' in target:
            # the absolute form (GET http://host/path): RFC 9112 puts its
            # host before the Host header's, so it is the one judged
            host = environ['HTTP_HOST'] = urlsplit(target).netloc
        elif host is None and environ.get('SERVER_PROTOCOL') == 'HTTP/1.1':
            log.warning('400 Bad Request: HTTP/1.1 without a Host header')
            return html_response(BAD_REQUEST_PAGE, 400)
        # no Host header (HTTP/1.0): WebOb uses the server's own name
        if host is not None and host not in hosts:
            name = host_name(host)
            if name not in hosts \
                    and not (domains and name.endswith(domains)):
                log.warning('400 Bad Request for host %.100r: not in '
                            'tutorial.allowed_hosts', host)
                return html_response(UNKNOWN_HOST_PAGE, 400)
        header = environ.get('HTTP_COOKIE')
        if header and not webob_can_read(header):
            environ[PARSED_COOKIES] = (read_cookies(header), header)
        length = environ.get('CONTENT_LENGTH')
        if length and request.content_length is not None \
                and request.content_length > max_body:
            problem = TOO_LARGE
        else:
            problem = problem_with(request, max_body)
        if problem is None:
            return handler(request)
        status, page = (413, TOO_LARGE_PAGE) if problem is TOO_LARGE \
            else (400, BAD_REQUEST_PAGE)
        log.warning('%s for %s %.200r: %s', STATUS_TEXT[status],
                    request.method, environ.get('PATH_INFO', ''), problem)
        return html_response(page, status)
    return request_guard_tween


def includeme(config):
    # Outermost but for the security headers, so that nothing below (the
    # debug toolbar included) reads the request before it has been looked
    # at, and its 400 pages get the headers too.
    config.add_tween(
        'tutorial.security.request_guard.request_guard_tween_factory',
        under=('tutorial.security.headers.security_headers_tween_factory',
               INGRESS))
