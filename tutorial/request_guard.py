"""Beyond the step: what WebOb cannot decode gets a 400 page, not a 500.

WebOb decodes a request's path, query and form as UTF-8 when the app first
reads them, and raises where they are not; Pyramid then answers 500. This
tween looks first: a path, query or form that cannot be read gets a short
400 page and one line in the log. A cookie that cannot be read is dropped
instead, so that a stray cookie set by a neighbouring page does not cost
the visitor the session cookie beside it.
"""
import logging
import os

from pyramid.response import Response
from pyramid.tweens import INGRESS
from webob.cookies import parse_cookie

log = logging.getLogger(__name__)

#: The content types whose bodies WebOb parses into ``request.POST``.
FORM_TYPES = ('application/x-www-form-urlencoded', 'multipart/form-data')

with open(os.path.join(os.path.dirname(__file__),
                       'bad_request.html'), 'rb') as f:
    BAD_REQUEST_PAGE = f.read()


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
    if not _is_utf8(environ.get('QUERY_STRING', '')):
        return 'the query is not UTF-8'
    try:
        request.GET
    except UnicodeError:
        return 'the query is not UTF-8'
    content_type = request.content_type
    # the bodies WebOb parses into request.POST, when something reads it
    if content_type in FORM_TYPES \
            or (request.method == 'POST' and not content_type):
        if request.charset != 'UTF-8':
            return 'the form is declared as %.40r, not UTF-8' % request.charset
        try:
            request.POST
        except (ValueError, LookupError, UnicodeError) as e:
            # ValueError: multipart framing WebOb cannot follow
            return 'the form cannot be read (%s)' % type(e).__name__
    return None


def request_guard_tween_factory(handler, registry):
    def request_guard_tween(request):
        environ = request.environ
        cookies = environ.get('HTTP_COOKIE')
        if cookies:
            environ['HTTP_COOKIE'] = readable_cookies(cookies)
        problem = problem_with(request)
        if problem is None:
            return handler(request)
        log.warning('400 Bad Request for %s %.200r: %s', request.method,
                    environ.get('PATH_INFO', ''), problem)
        return Response(BAD_REQUEST_PAGE, status=400,
                        content_type='text/html', charset='utf-8')
    return request_guard_tween


def includeme(config):
    # Outermost, so that nothing below (the debug toolbar included) reads
    # the request before it has been looked at.
    config.add_tween('tutorial.request_guard.request_guard_tween_factory',
                     under=INGRESS)
