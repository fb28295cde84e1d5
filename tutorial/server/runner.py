"""Beyond the step: production served by granian, a worker per core.

``pserve production.ini`` starts the server [server:main] names; ``use =
egg:tutorial#granian`` names this runner. granian's HTTP layer is Rust,
so the server's own work per request costs a fraction of waitress's, and
its workers are processes, so every core serves. Each worker loads the
app from the same ini file after it starts (no connection, to Redis or
anything else, is shared across a fork); pserve's own copy of the app,
loaded first, has already refused a bad setting in one line.

[server:main] takes:

- ``listen = HOST:PORT``, as waitress does;
- ``workers``: how many (TUTORIAL_WORKERS wins); by default one per core
  this process may run on;
- ``threads``: the app's threads in each worker (4);
- ``backlog``: connections the kernel holds for the workers (1024);
- ``graceful_timeout``: on SIGTERM, the seconds requests in flight may
  take before their worker is killed (5);
- ``ident``: the Server header; empty, so that none names the software;
- waitress's ``trusted_proxy`` settings (proxy_headers.py).

SIGHUP restarts the workers one at a time; a worker that dies is
replaced.
"""
import atexit
import functools
import logging
import os
import shutil
import tempfile

from ..config.settings import host_and_port, int_setting, refuse
from ..operations import MULTIPROC_ENV
from .proxy_headers import ProxyHeaders, proxy_settings

log = logging.getLogger(__name__)

WORKERS_ENV = 'TUTORIAL_WORKERS'
#: The logger granian writes its own lines to.
GRANIAN_LOGGER = '_granian'

#: [server:main]'s keys this runner reads; any other is refused, so that
#: a waitress setting left behind is not silently ignored.
KEYS = ('listen', 'workers', 'threads', 'backlog', 'graceful_timeout',
        'ident', 'trusted_proxy', 'trusted_proxy_count',
        'trusted_proxy_headers', 'clear_untrusted_proxy_headers')


def cores():
    """The cores this process may run on (its affinity, as a container or
    taskset limits it), else all the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def address(listen):
    """(host, port) from ``listen``; one line if it is not HOST:PORT."""
    found = host_and_port(listen)
    if found is None:
        refuse('[server:main] listen is %r; it must be HOST:PORT', listen)
    return found


class ServerHeader:
    """WSGI middleware: the Server header the ini names, in place of
    granian's own ``server: granian``, which it adds to any answer that
    has none."""

    def __init__(self, app, ident):
        self.app = app
        self.header = ('Server', ident)

    def __call__(self, environ, start_response):
        def with_header(status, headers, exc_info=None):
            headers.append(self.header)
            return start_response(status, headers, exc_info)
        return self.app(environ, with_header)


def worker_app(config_file, global_conf, options):
    """The app as one worker serves it: loaded from the ini file, behind
    the proxy headers and the Server header. (granian calls this in each
    worker; with Python 3.14 it starts workers afresh, not by fork, so
    logging is set up here too.)"""
    from pyramid.paster import get_app, setup_logging

    setup_logging(config_file)
    app = get_app(config_file, 'main', options=global_conf)
    return ServerHeader(ProxyHeaders(app, **options['proxy']),
                        options['ident'])


def load(target):
    """What granian calls in a worker, with the target it was given: here,
    worker_app with its arguments."""
    return target()


def server_factory(global_conf, **server_settings):
    """The paste.server_factory: [server:main]'s settings checked as pserve
    reads them, before the app is loaded, each refused in one line; then
    the server, which granian runs."""
    unknown = sorted(set(server_settings) - set(KEYS))
    if unknown:
        refuse('[server:main] has %s, which granian does not take (it '
               'takes: %s)', ', '.join(unknown), ', '.join(KEYS))
    host, port = address(server_settings.get('listen', '127.0.0.1:6543'))
    options = {
        'host': host,
        'port': port,
        'workers': int_setting(server_settings, 'workers', WORKERS_ENV,
                               default=cores(), minimum=1),
        'threads': int_setting(server_settings, 'threads', default=4,
                               minimum=1),
        'backlog': int_setting(server_settings, 'backlog', default=1024,
                               minimum=1),
        'graceful_timeout': int_setting(server_settings, 'graceful_timeout',
                                        default=5, minimum=1),
        'ident': server_settings.get('ident', ''),
        'proxy': proxy_settings(server_settings),
    }
    # prometheus_client adds up the workers' metrics from files in this
    # folder, which it reads the name of when first imported: so it is
    # named now, before pserve loads the app (tutorial/operations/metrics.py)
    if not os.environ.get(MULTIPROC_ENV):
        folder = tempfile.mkdtemp(prefix='tutorial-metrics-')
        os.environ[MULTIPROC_ENV] = folder
        atexit.register(remove_folder, folder, os.getpid())
    return functools.partial(serve, global_conf, options)


def remove_folder(folder, pid):
    """Remove the metrics' folder, from the process that made it (a
    worker started by fork inherits this, but does not run it)."""
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


def serve(global_conf, options, wsgi_app):
    """Serve the ini file's app from granian's workers. (pserve's own
    copy, ``wsgi_app``, was loaded to check its settings; each worker
    loads its own.)"""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    server = Granian(
        functools.partial(worker_app, global_conf['__file__'],
                          dict(global_conf), options),
        address=options['host'],
        port=options['port'],
        interface=Interfaces.WSGI,
        websockets=False,
        workers=options['workers'],
        blocking_threads=options['threads'],
        backlog=options['backlog'],
        respawn_failed_workers=True,
        workers_kill_timeout=options['graceful_timeout'],
        # granian's own lines (a worker started, died, replaced) go where
        # the ini file's logging sends everything, at its level
        log_level=LogLevels(logging.getLevelName(
            logging.getLogger().getEffectiveLevel()).lower()),
        log_dictconfig={'loggers': {GRANIAN_LOGGER: {
            'handlers': [], 'propagate': True}}},
    )
    log.info('Serving on http://%s:%d with %d workers of %d threads '
             '(granian)', options['host'] if ':' not in options['host']
             else '[%s]' % options['host'], options['port'],
             options['workers'], options['threads'])
    server.serve(target_loader=load, wrap_loader=True)
