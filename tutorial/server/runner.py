"""Beyond the step: production served by uWSGI, a worker per core.

``pserve production.ini`` starts the server [server:main] names; ``use =
egg:tutorial#uwsgi`` names this runner. It checks [server:main] as pserve
reads it, each refusal in one line, and pserve's own copy of the app,
loaded first, has refused a bad setting of the app in one line. Then it
runs uWSGI (the pyuwsgi wheel) beside itself, as a master and its
workers, each worker a process that loads the app from the same ini file
after it starts (worker.py), so that no connection, to Redis or anything
else, is shared across a fork.

uWSGI's HTTP router faces the clients: one event-driven process that
reads each request whole however slowly it comes, keeps connections
alive, and closes them when HTTP says so, while the workers only see
whole requests. uWSGI hands the app every header byte as PEP 3333 asks
(a native string decoded as latin-1), and its HTTP layer is C, so its
own work per request costs a fraction of waitress's (bench/README.txt
has the figures, and docs/production.rst why it was chosen).

This process stays, as the one an operator signals. uWSGI itself reads
SIGTERM as "reload at once", so the signals are turned into the master's
own commands, written to its FIFO:

- SIGTERM or SIGINT: stop taking connections, let the requests in flight
  finish for up to ``graceful_timeout`` seconds, then stop;
- SIGHUP: restart the workers one at a time (uWSGI's chain reload), each
  replaced before the next goes, so that some worker always serves.

A worker that dies is replaced by the master. If this process dies, the
kernel kills the master (SIGKILL), and its workers leave with it.

[server:main] takes:

- ``listen = HOST:PORT``, as waitress does (TUTORIAL_LISTEN wins);
- ``workers``: how many (TUTORIAL_WORKERS wins); by default one per core
  this process may run on;
- ``threads``: the app's threads in each worker. By default, APP_THREADS
  for the requests the app works on, and as many more as may wait for
  one session's lock (8 with the Redis store, none with the cookies);
- ``backlog``: connections the kernel holds for the workers (1024);
- ``graceful_timeout``: on SIGTERM, the seconds requests in flight may
  take before their worker is killed (5);
- ``ident``: the Server header; empty (uWSGI sends none), so that no
  answer names the software;
- waitress's ``trusted_proxy`` settings (proxy_headers.py).
"""
import atexit
import ctypes
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
from ..sessions.stores import waiting_requests
from .proxy_headers import proxy_settings

log = logging.getLogger(__name__)

WORKERS_ENV = 'TUTORIAL_WORKERS'
#: How a worker learns what to load (worker.py reads it).
WORKER_ENV = 'TUTORIAL_SERVER_WORKER'
#: The largest request head uWSGI reads, in bytes (its own maximum): a
#: header of 8 kB, or a hundred of them, is served.
BUFFER_SIZE = 65535
#: The seconds a client has to send a request's head.
HEADERS_TIMEOUT = 10
#: A worker's threads for the requests the app works on. The app holds
#: the GIL for most of a request, so more run no faster; they only share
#: it, and each request's time grows with their number (bench/README.txt).
APP_THREADS = 4

#: [server:main]'s keys this runner reads; any other is refused, so that
#: a waitress setting left behind is not silently ignored.
KEYS = ('listen', 'workers', 'threads', 'backlog', 'graceful_timeout',
        'ident', 'trusted_proxy', 'trusted_proxy_count',
        'trusted_proxy_headers', 'clear_untrusted_proxy_headers')

#: What the master's FIFO takes: q stops it gracefully, c restarts the
#: workers one after another.
STOP, CHAIN_RELOAD = b'q', b'c'
#: What the master says as a chain reload goes (uWSGI's words; its
#: verbose lines begin with the time).
CHAIN_STARTS = 'chain reload starting'
CHAIN_VICTIM = 'chain next victim is worker '
CHAIN_ENDS = 'chain reloading complete'


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
    the server, which uWSGI runs."""
    if importlib.util.find_spec('pyuwsgi') is None:
        refuse('[server:main] uses uWSGI, which is not installed: pip '
               'install -e ".[production]" (on Windows, where it does not '
               'run, serve with use = egg:waitress#main, as development.ini '
               'does)')
    unknown = sorted(set(server_settings) - set(KEYS))
    if unknown:
        refuse('[server:main] has %s, which uWSGI does not take here (it '
               'takes: %s)', ', '.join(unknown), ', '.join(KEYS))
    host, port = address(setting(server_settings, 'listen', LISTEN_ENV,
                                 default=DEFAULT_LISTEN))
    options = {
        'host': host,
        'port': port,
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
    """pserve's server: runs the uWSGI master, and hands it the signals
    an operator sends this process."""

    def __init__(self, global_conf, options):
        self.global_conf = dict(global_conf)
        self.options = options
        # what the signal handlers and the master's lines tell the loop
        self.reload_asked = self.stop_by = self.fifo = self.fifo_fd = None
        self.stopping = self.chain_running = False
        #: the workers (uWSGI numbers them from 1) a restart asked for
        #: has yet to replace
        self.to_replace = set()

    def command(self, fifo):
        """The uWSGI master's command line."""
        options = self.options
        host = options['host']
        listen = '[%s]:%d' % (host, options['port']) if ':' in host \
            else '%s:%d' % (host, options['port'])
        return [
            sys.executable, '-c', 'import pyuwsgi; pyuwsgi.run()',
            # uWSGI's HTTP router faces the clients: one event-driven
            # process that reads each request whole, however slowly it
            # comes, keeps connections alive between requests, and closes
            # them when HTTP says so; the workers only ever see whole
            # requests, over a socket of their own
            '--http', listen,
            '--socket', os.path.join(os.path.dirname(fifo), 'workers.sock'),
            '--http-keepalive', '--http-auto-chunked',
            # a request head must come within this many seconds
            '--http-headers-timeout', str(HEADERS_TIMEOUT),
            # Expect: 100-continue answered, and chunked bodies handed on
            '--http-manage-expect', '--http-chunked-input',
            '--http-buffer-size', str(BUFFER_SIZE),
            '--master', '--master-fifo', fifo,
            '--processes', str(options['workers']),
            '--threads', str(options['threads']),
            # each worker loads the app itself, after it starts
            '--lazy-apps', '--need-app',
            '--wsgi', 'tutorial.server.worker',
            '--listen', str(options['backlog']),
            '--buffer-size', str(BUFFER_SIZE),
            '--worker-reload-mercy', str(options['graceful_timeout']),
            '--reload-mercy', str(options['graceful_timeout']),
            # workers go when their master goes, however it went
            '--no-orphans',
            # a worker that stops leaves without Python's atexit hooks and
            # finalization, which on Python 3.13 wait for the threads
            # uWSGI made until the master kills the worker (uWSGI #2480)
            '--skip-atexit', '--skip-atexit-teardown',
            # the app logs what matters through the ini file's logging;
            # a line per request is the proxy's to write
            '--disable-logging',
        ]

    def __call__(self, wsgi_app):
        """Serve until stopped. (pserve's own copy of the app,
        ``wsgi_app``, was loaded to check its settings; each worker
        loads its own.)"""
        if self.options['threads'] is None:
            self.options['threads'] = APP_THREADS + waiting_requests(
                wsgi_app.registry.settings)
        folder = tempfile.mkdtemp(prefix='tutorial-server-')
        self.fifo = fifo = os.path.join(folder, 'master.fifo')
        # the workers' own log lines go where this process's go
        log_fd = os.dup(2)
        env = dict(os.environ)
        env[WORKER_ENV] = json.dumps({
            'config': self.global_conf['__file__'],
            'global_conf': self.global_conf,
            'proxy': self.options['proxy'],
            'ident': self.options['ident'],
            'log_fd': log_fd,
        })
        try:
            master = subprocess.Popen(
                self.command(fifo), env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(log_fd,), preexec_fn=die_with_parent,
                # a signal to this process's group (Ctrl-C in a terminal)
                # comes to this process alone, which tells the master
                start_new_session=True)
            os.close(log_fd)
            relay = threading.Thread(target=relay_lines, args=(
                master.stdout, self.saw), daemon=True)
            relay.start()
            self.handle_signals(master)
            log.info('Serving on http://%s:%d with %d workers of %d '
                     'threads (uWSGI)', self.options['host'] if ':' not in
                     self.options['host'] else '[%s]' % self.options['host'],
                     self.options['port'], self.options['workers'],
                     self.options['threads'])
            code = self.wait(master)
            relay.join(5)
        finally:
            if self.fifo_fd is not None:
                os.close(self.fifo_fd)
            shutil.rmtree(folder, ignore_errors=True)
        if code:
            sys.exit(code)

    def wait(self, master):
        """The master's exit status, once it has stopped. Told to stop, it
        has the graceful timeout and a second, then is told to stop at
        once (SIGINT): uWSGI's graceful stop passes over a worker still
        loading the app when it came, and then waits on it. A restart
        that has left a worker unreplaced, and no longer runs, is asked
        for again, each second."""
        while True:
            try:
                return master.wait(0.5)
            except subprocess.TimeoutExpired:
                pass
            if self.to_replace and not self.chain_running \
                    and not self.stopping \
                    and time.monotonic() - self.reload_asked > 1:
                self.reload_asked = time.monotonic()
                self.tell(master, CHAIN_RELOAD)
            if self.stop_by is not None \
                    and time.monotonic() > self.stop_by:
                master.send_signal(signal.SIGINT)
                self.stop_by = None

    def handle_signals(self, master):
        def stop(signum, frame):
            self.stopping = True
            if self.stop_by is None:
                self.stop_by = time.monotonic() \
                    + self.options['graceful_timeout'] + 1
            self.tell(master, STOP)

        def restart_workers(signum, frame):
            self.to_replace = set(range(1, self.options['workers'] + 1))
            self.reload_asked = time.monotonic()
            self.tell(master, CHAIN_RELOAD)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, restart_workers)

    def saw(self, line):
        """What the master said, and the level to log it at.

        Which worker a chain reload replaces, and when it ends: the
        master passes over a worker still loading the app (one just
        started, or replaced), so a chain that ends with a worker left
        is asked for again (wait()). And a worker killed at the graceful
        timeout, once a stop was asked for, is what the timeout is for
        (a worker still loading the app when the stop came is one): it is
        said, not warned of."""
        if CHAIN_STARTS in line:
            self.chain_running = True
        elif CHAIN_ENDS in line:
            self.chain_running = False
        elif CHAIN_VICTIM in line:
            victim = line.split(CHAIN_VICTIM, 1)[1].strip()
            if victim.isdigit():
                self.to_replace.discard(int(victim))
        if self.stopping and 'NO MERCY' in line:
            return logging.INFO
        return logging.WARNING if any(
            word in line for word in WARNING_WORDS) else logging.DEBUG

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


def die_with_parent():
    """In the master, before it starts: have the kernel kill it should
    this process die first (SIGKILL: a master in the middle of a graceful
    stop holds SIGINT back, and one was left running so); its workers
    leave when it goes (--no-orphans)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not on Linux
        pass


#: Which of uWSGI's own lines say something an operator must see; the
#: rest (its start-up banner, a worker started) are details.
WARNING_WORDS = ('DAMN', 'died', 'NO MERCY', 'too much time', 'error',
                 'Error', 'unable', 'invalid')


def relay_lines(stream, saw):
    """uWSGI's own lines, each through this process's logging at the level
    ``saw`` gives it (the ini file's logging decides what is shown)."""
    uwsgi_log = logging.getLogger(__name__ + '.uwsgi')
    for raw in stream:
        line = raw.decode('utf-8', 'replace').rstrip()
        if line:
            uwsgi_log.log(saw(line), '%s', line)
    stream.close()
