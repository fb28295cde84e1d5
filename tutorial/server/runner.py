"""Beyond the step: production's server, run by ``pserve production.ini``
(``use = egg:tutorial#uwsgi``).

It checks [server:main] as pserve reads it, each refusal in one line,
then runs two programs beside itself: uWSGI's master and its workers, a
process per core, each loading the app from the same ini file after it
starts (worker.py); and nginx in front of them, which faces the clients
(front.py). This process stays, as the one an operator signals:

- SIGTERM or SIGINT: nginx stops taking connections and finishes what it
  holds, then the workers finish theirs, within ``graceful_timeout``;
- SIGHUP: the workers are restarted one at a time (uWSGI's chain
  reload), each replaced before the next goes.

A worker that dies is replaced by the master. If nginx or the master
stops by itself, the other is stopped and this process exits with an
error; if this process dies, the kernel kills both (SIGKILL).
docs/production.rst says why this design, and what each setting does.
"""
import atexit
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from ..config.settings import (
    DEFAULT_LISTEN,
    LISTEN_ENV,
    host_and_port,
    int_setting,
    refuse,
    setting,
    )
from ..operations import MULTIPROC_ENV
from ..security.headers import headers_from
from ..security.request_guard import max_body_size
from ..sessions.stores import waiting_requests
from .front import (
    NginxLines,
    find_nginx,
    listen_address,
    nginx_config,
    raise_open_files,
    )
from .master import (
    APP_THREADS,
    CHAIN_RELOAD,
    STOP,
    MasterLines,
    master_command,
    relay_lines,
    socket_path,
    start,
    )
from .proxy_headers import proxy_settings

log = logging.getLogger(__name__)

WORKERS_ENV = 'TUTORIAL_WORKERS'
#: How a worker learns what to load (worker.py reads it).
WORKER_ENV = 'TUTORIAL_SERVER_WORKER'
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
        refuse('[server:main] listen (or %s) is %r; it must be HOST:PORT',
               LISTEN_ENV, listen)
    return found


def server_factory(global_conf, **server_settings):
    """The paste.server_factory: [server:main]'s settings checked as pserve
    reads them, before the app is loaded, each refused in one line; then
    the server."""
    if importlib.util.find_spec('pyuwsgi') is None:
        refuse('[server:main] uses uWSGI, which is not installed: pip '
               'install -e ".[production]" (on Windows, where it does not '
               'run, serve with use = egg:waitress#main, as development.ini '
               'does)')
    nginx = find_nginx()
    if nginx is None:
        refuse('[server:main] puts nginx in front of uWSGI, and nginx is not '
               'installed (Debian: apt-get install nginx-light, or nginx)')
    unknown = sorted(set(server_settings) - set(KEYS))
    if unknown:
        refuse('[server:main] has %s, which this server does not take (it '
               'takes: %s)', ', '.join(unknown), ', '.join(KEYS))
    host, port = address(setting(server_settings, 'listen', LISTEN_ENV,
                                 default=DEFAULT_LISTEN))
    options = {
        'host': host,
        'port': port,
        'nginx': nginx,
        'workers': int_setting(server_settings, 'workers', WORKERS_ENV,
                               default=cores(), minimum=1),
        # None: as many as the app's session store needs (__call__)
        'threads': int_setting(server_settings, 'threads', minimum=1),
        'backlog': int_setting(server_settings, 'backlog', default=1024,
                               minimum=1),
        'graceful_timeout': int_setting(server_settings, 'graceful_timeout',
                                        default=5, minimum=1),
        'ident': setting(server_settings, 'ident'),
        'proxy': proxy_settings(server_settings),
    }
    # prometheus_client adds up the workers' metrics from files in this
    # folder, which it reads the name of when first imported: so it is
    # named now, before pserve loads the app (tutorial/operations/)
    if not os.environ.get(MULTIPROC_ENV):
        folder = tempfile.mkdtemp(prefix='tutorial-metrics-')
        os.environ[MULTIPROC_ENV] = folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Runner(global_conf, options)


class Runner:
    """pserve's server: runs nginx and the uWSGI master, and hands them the
    signals an operator sends this process."""

    def __init__(self, global_conf, options):
        self.global_conf = dict(global_conf)
        self.options = options
        # what the signal handlers and the master's lines tell the loop
        self.reload_asked = self.stop_by = self.fifo = self.fifo_fd = None
        self.master_told = False
        self.master_lines = MasterLines()

    def __call__(self, wsgi_app):
        """Serve until stopped. (pserve's own copy of the app,
        ``wsgi_app``, was loaded to check its settings; each worker
        loads its own.)"""
        options = self.options
        settings = wsgi_app.registry.settings
        if options['threads'] is None:
            options['threads'] = APP_THREADS + waiting_requests(settings)
        files = raise_open_files()
        folder = tempfile.mkdtemp(prefix='tutorial-server-')
        self.fifo = os.path.join(folder, 'master.fifo')
        config = os.path.join(folder, 'nginx.conf')
        with open(config, 'w') as f:
            f.write(nginx_config(
                folder, options, files,
                max_body_size(settings),
                headers_from(settings)))
        # the workers' own log lines go where this process's go
        log_fd = os.dup(2)
        env = dict(os.environ)
        env[WORKER_ENV] = json.dumps({
            'config': self.global_conf['__file__'],
            'global_conf': self.global_conf,
            'proxy': options['proxy'],
            'ident': options['ident'],
            'log_fd': log_fd,
        })
        nginx = master = None
        try:
            master = start(master_command(options, socket_path(folder),
                                          self.fifo),
                           env, pass_fds=(log_fd,))
            os.close(log_fd)
            # nginx takes clients once the workers' socket is there: a
            # request then waits in its backlog for a worker to be ready
            while not os.path.exists(socket_path(folder)) \
                    and master.poll() is None:
                time.sleep(0.05)
            nginx = start([options['nginx'], '-e', 'stderr', '-p', folder,
                           '-c', config, '-g', 'daemon off;'], env)
            relays = [threading.Thread(target=relay_lines, args=args,
                                       daemon=True) for args in (
                (master.stdout, self.master_lines, 'uwsgi'),
                (nginx.stdout, NginxLines(), 'nginx'))]
            for relay in relays:
                relay.start()
            self.handle_signals(nginx, master)
            log.info('Serving on http://%s with %d workers of %d threads '
                     '(uWSGI, behind nginx; %d open files)',
                     listen_address(options['host'], options['port']),
                     options['workers'], options['threads'], files)
            code = self.wait(nginx, master)
            for relay in relays:
                relay.join(5)
        finally:
            for process in (nginx, master):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
            if self.fifo_fd is not None:
                os.close(self.fifo_fd)
            shutil.rmtree(folder, ignore_errors=True)
        if code:
            sys.exit(code)

    def wait(self, nginx, master):
        """The exit status, once both have stopped. Told to stop, nginx
        finishes what it holds, then the master is told to stop; each has
        the graceful timeout (the master a second more), then is stopped
        at once (uWSGI's graceful stop passes over a worker still loading
        the app when it came, and then waits on it). A restart that has
        left a worker unreplaced, and no longer runs, is asked for again,
        each second. One that stops by itself stops the other."""
        failed = False
        lines = self.master_lines
        while True:
            try:
                code = master.wait(0.5)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None and nginx.poll() is not None:
                return 1 if failed else code
            now = time.monotonic()
            if not lines.stopping and (code is not None
                                       or nginx.poll() is not None):
                log.error('%s stopped by itself (exit %s); stopping the '
                          'server', 'nginx' if code is None else 'uWSGI',
                          nginx.returncode if code is None else code)
                failed = True
                self.stop(nginx)
            if lines.stopping and not self.master_told \
                    and (nginx.poll() is not None or now > self.stop_by):
                self.master_told = True
                if nginx.poll() is None:
                    nginx.terminate()
                self.stop_by = now + self.options['graceful_timeout'] + 1
                self.tell(master, STOP)
            elif self.master_told and now > self.stop_by:
                for process in (master, nginx):
                    if process.poll() is None:
                        process.send_signal(signal.SIGINT)
                self.stop_by = float('inf')
            if lines.to_replace and not lines.chain_running \
                    and not lines.stopping \
                    and now - self.reload_asked > 1:
                self.reload_asked = now
                self.tell(master, CHAIN_RELOAD)

    def stop(self, nginx):
        """nginx stops taking connections and finishes what it holds
        (SIGQUIT); wait() then stops the master."""
        if not self.master_lines.stopping:
            self.master_lines.stopping = True
            self.stop_by = time.monotonic() \
                + self.options['graceful_timeout']
            if nginx.poll() is None:
                nginx.send_signal(signal.SIGQUIT)

    def handle_signals(self, nginx, master):
        def stop(signum, frame):
            self.stop(nginx)

        def restart_workers(signum, frame):
            self.master_lines.to_replace = set(
                range(1, self.options['workers'] + 1))
            self.reload_asked = time.monotonic()
            self.tell(master, CHAIN_RELOAD)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, restart_workers)

    def tell(self, master, command):
        """Write ``command`` to the master's FIFO, once it has made it; a
        stop sent before that (or to a master that no longer reads) ends
        it at once instead.

        The FIFO is opened once and kept open: the master reopens it each
        time its last writer closes it, and a command written in between
        would find no reader and be lost."""
        try:
            if self.fifo_fd is None:
                self.fifo_fd = os.open(self.fifo,
                                       os.O_WRONLY | os.O_NONBLOCK)
            os.write(self.fifo_fd, command)
        except OSError:
            if command == STOP and master.poll() is None:
                master.send_signal(signal.SIGINT)
