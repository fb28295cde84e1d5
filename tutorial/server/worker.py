"""What each uWSGI worker serves (runner.py names this module to uWSGI):
the app loaded from the ini file after the worker starts, behind the
proxy headers, what uWSGI's parser lets through, and the Server header.

The runner tells the worker what to load in one environment variable.
The worker's log lines go to the runner's own standard error, as the ini
file's logging says, not through uWSGI's.
"""
import json
import os
import sys

from pyramid.paster import get_app, setup_logging

from ..pages.errors import html_response, message_page
from ..security.headers import add_security_headers, security_headers
from .proxy_headers import ProxyHeaders
from .runner import WORKER_ENV

FOLDED_PAGE = message_page(
    'bad request', 'This request could not be read',
    'One of its headers was folded over two lines, which HTTP no longer '
    'allows, so nothing was changed.')


class RequestHeaders:
    """WSGI middleware for what uWSGI's HTTP parser passes on as it found
    it: a header folded over two lines (RFC 9112 forbids it; waitress
    unfolds it) reaches the app with its line break, and gets a 400 page
    here."""

    def __init__(self, app, registry):
        self.app = app
        self.headers = security_headers(registry)

    def __call__(self, environ, start_response):
        for name, value in environ.items():
            if name[:5] == 'HTTP_' and ('\n' in value or '\r' in value):
                response = add_security_headers(
                    html_response(FOLDED_PAGE, 400), self.headers)
                return response(environ, start_response)
        return self.app(environ, start_response)


class ServerHeader:
    """WSGI middleware: the Server header the ini names, if any (uWSGI
    adds none of its own)."""

    def __init__(self, app, ident):
        self.app = app
        self.header = ('Server', ident)

    def __call__(self, environ, start_response):
        def with_header(status, headers, exc_info=None):
            headers.append(self.header)
            return start_response(status, headers, exc_info)
        return self.app(environ, with_header)


def worker_app(config):
    """The app one worker serves, from what the runner passed."""
    sys.stderr = os.fdopen(config['log_fd'], 'w', buffering=1,
                           closefd=False)
    setup_logging(config['config'])
    app = get_app(config['config'], 'main', options=config['global_conf'])
    registry = app.registry
    app = RequestHeaders(ProxyHeaders(app, **config['proxy']), registry)
    return ServerHeader(app, config['ident']) if config['ident'] else app


application = worker_app(json.loads(os.environ[WORKER_ENV]))
