"""What each uWSGI worker serves (runner.py names this module to uWSGI):
the app loaded from the ini file after the worker starts, behind the
proxy headers and the Server header.

The runner tells the worker what to load in one environment variable.
The worker's log lines go to the runner's own standard error, as the ini
file's logging says, not through uWSGI's.
"""
import json
import os
import sys

from pyramid.paster import get_app, setup_logging

from .proxy_headers import ProxyHeaders
from .runner import WORKER_ENV


class ServerHeader:
    """WSGI middleware: the Server header the ini names, if any, which
    nginx then sends instead of its own."""

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
    app = ProxyHeaders(app, **config['proxy'])
    return ServerHeader(app, config['ident']) if config['ident'] else app


application = worker_app(json.loads(os.environ[WORKER_ENV]))
