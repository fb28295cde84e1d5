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
from ..operations.log_summary import LogSummary
from ..security.headers import headers_from
from ..security.request_guard import max_body_size
from ..sessions.stores import waiting_requests
from .front import MAX_VARS, find_nginx, nginx_config, raise_open_files
from .proxy_headers import proxy_settings

log = logging.getLogger(__name__)

WORKERS_ENV = 'TUTORIAL_WORKERS'
#: How a worker learns what to load (worker.py reads it).
WORKER_ENV = 'TUTORIAL_SERVER_WORKER'
#: The largest request uWSGI takes from nginx, in bytes (its maximum).
BUFFER_SIZE = 65535
#: A worker's threads for the requests the app works on. The app holds
#: the GIL for most of a request, so more run no faster; they only share
#: it, and each request's time grows with their number (bench/README.txt).
APP_THREADS = 4
#: How often a kind of client fault is logged: the first at once, then
#: one line each this many seconds, saying how many it stands for.
FAULT_INTERVAL = 10

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
        self.stopping = self.chain_running = self.master_told = False
        #: the workers (uWSGI numbers them from 1) a restart asked for
        #: has yet to replace
        self.to_replace = set()
        self.faults = LogSummary(FAULT_INTERVAL)

    def command(self, folder):
        """The uWSGI master's command line."""
        options = self.options
        return [
            sys.executable, '-c', 'import pyuwsgi; pyuwsgi.run()',
            # the workers take whole requests from nginx, on this socket
            '--socket', os.path.join(folder, 'workers.sock'),
            '--master', '--master-fifo', self.fifo,
            '--processes', str(options['workers']),
            '--threads', str(options['threads']),
            # each worker loads the app itself, after it starts
            '--lazy-apps', '--need-app',
            '--wsgi', 'tutorial.server.worker',
            '--listen', str(options['backlog']),
            '--buffer-size', str(BUFFER_SIZE), '--max-vars', str(MAX_VARS),
            '--worker-reload-mercy', str(options['graceful_timeout']),
            '--reload-mercy', str(options['graceful_timeout']),
            # workers go when their master goes, however it went
            '--no-orphans',
            # a worker that stops leaves without Python's atexit hooks and
            # finalization, which on Python 3.13 wait for the threads
            # uWSGI made until the master kills the worker (uWSGI #2480)
            '--skip-atexit', '--skip-atexit-teardown',
            # the app logs what matters through the ini file's logging,
            # and nginx each request that failed
            '--disable-logging',
        ]

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
            master = start(self.command(folder), env, pass_fds=(log_fd,))
            os.close(log_fd)
            # nginx takes clients once the workers' socket is there: a
            # request then waits in its backlog for a worker to be ready
            while not os.path.exists(os.path.join(folder, 'workers.sock')) \
                    and master.poll() is None:
                time.sleep(0.05)
            nginx = start([options['nginx'], '-e', 'stderr', '-p', folder,
                           '-c', config, '-g', 'daemon off;'], env)
            relays = [threading.Thread(target=relay_lines, args=args,
                                       daemon=True) for args in (
                (master.stdout, self.saw, 'uwsgi'),
                (nginx.stdout, self.said, 'nginx'))]
            for relay in relays:
                relay.start()
            self.handle_signals(nginx, master)
            log.info('Serving on http://%s with %d workers of %d threads '
                     '(uWSGI, behind nginx; %d open files)',
                     listen_text(options), options['workers'],
                     options['threads'], files)
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
        while True:
            try:
                code = master.wait(0.5)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None and nginx.poll() is not None:
                return 1 if failed else code
            now = time.monotonic()
            if not self.stopping and (code is not None
                                      or nginx.poll() is not None):
                log.error('%s stopped by itself (exit %s); stopping the '
                          'server', 'nginx' if code is None else 'uWSGI',
                          nginx.returncode if code is None else code)
                failed = True
                self.stop(nginx)
            if self.stopping and not self.master_told \
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
            if self.to_replace and not self.chain_running \
                    and not self.stopping \
                    and now - self.reload_asked > 1:
                self.reload_asked = now
                self.tell(master, CHAIN_RELOAD)

    def stop(self, nginx):
        """nginx stops taking connections and finishes what it holds
        (SIGQUIT); wait() then stops the master."""
        if not self.stopping:
            self.stopping = True
            self.stop_by = time.monotonic() \
                + self.options['graceful_timeout']
            if nginx.poll() is None:
                nginx.send_signal(signal.SIGQUIT)

    def handle_signals(self, nginx, master):
        def stop(signum, frame):
            self.stop(nginx)

        def restart_workers(signum, frame):
            self.to_replace = set(range(1, self.options['workers'] + 1))
            self.reload_asked = time.monotonic()
            self.tell(master, CHAIN_RELOAD)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, restart_workers)

    def said(self, line):
        """What nginx said, and the level to log it at (None: held). A
        client's fault (fault lines, front.py) is logged at once, then
        once each FAULT_INTERVAL seconds for each status, with how many
        it stands for; nginx's own lines are warnings."""
        status = line[:3]
        if not (status.isdigit() and line[3:9] == ' for "'):
            return logging.WARNING, line
        due = self.faults.due(status)
        if due is None:
            return None, line
        count = due[0]
        if count > 1:
            line = '%s (and %d more such in %d s)' % (
                line, count - 1, FAULT_INTERVAL)
        return logging.WARNING, line

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
            return logging.INFO, line
        return logging.WARNING if any(
            word in line for word in WARNING_WORDS) else logging.DEBUG, line

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


def start(command, env, pass_fds=()):
    """One of the two programs, its output on a pipe to this process."""
    return subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, pass_fds=pass_fds,
        preexec_fn=die_with_parent,
        # a signal to this process's group (Ctrl-C in a terminal) comes to
        # this process alone, which tells the others
        start_new_session=True)


def listen_text(options):
    host = options['host']
    return '%s:%d' % ('[%s]' % host if ':' in host else host,
                      options['port'])


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


def relay_lines(stream, saw, name):
    """A program's own lines, each through this process's logging at the
    level ``saw`` gives it, if any (the ini file's logging decides what is
    shown)."""
    program_log = logging.getLogger(__name__ + '.' + name)
    for raw in stream:
        line = raw.decode('utf-8', 'replace').rstrip()
        if line:
            level, line = saw(line)
            if level is not None:
                program_log.log(level, '%s', line)
    stream.close()
