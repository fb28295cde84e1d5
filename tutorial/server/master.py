"""Beyond the step: uWSGI's master and its workers, as the runner starts
them: the command line, what the master's lines say, and the two
programs' lines relayed through the ini file's logging."""
import ctypes
import logging
import os
import signal
import subprocess
import sys

from .front import MAX_VARS

#: The largest request uWSGI takes from nginx, in bytes (its maximum).
BUFFER_SIZE = 65535
#: A worker's threads for the requests the app works on. The app holds
#: the GIL for most of a request, so more run no faster; they only share
#: it, and each request's time grows with their number (bench/README.txt).
APP_THREADS = 4

#: What the master's FIFO takes: q stops it gracefully, c restarts the
#: workers one after another.
STOP, CHAIN_RELOAD = b'q', b'c'
#: What the master says as a chain reload goes (uWSGI's words; its
#: verbose lines begin with the time).
CHAIN_STARTS = 'chain reload starting'
CHAIN_VICTIM = 'chain next victim is worker '
CHAIN_ENDS = 'chain reloading complete'
#: Which of uWSGI's own lines say something an operator must see; the
#: rest (its start-up banner, a worker started) are details.
WARNING_WORDS = ('DAMN', 'died', 'NO MERCY', 'too much time', 'error',
                 'Error', 'unable', 'invalid')


def master_command(options, socket, fifo):
    """The uWSGI master's command line: its workers on ``socket``, its
    commands read from ``fifo``."""
    return [
        sys.executable, '-c', 'import pyuwsgi; pyuwsgi.run()',
        # the workers take whole requests from nginx, on this socket
        '--socket', socket,
        '--master', '--master-fifo', fifo,
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
        # finalization, which on Python 3.13 wait for the threads uWSGI
        # made until the master kills the worker (uWSGI #2480)
        '--skip-atexit', '--skip-atexit-teardown',
        # the app logs what matters through the ini file's logging, and
        # nginx each request that failed
        '--disable-logging',
    ]


class MasterLines:
    """What the master says, read for the runner: which worker a chain
    reload replaces, and when it ends. The master passes over a worker
    still loading the app (one just started, or replaced), so a chain
    that ends with a worker left is asked for again (Runner.wait)."""

    def __init__(self):
        self.chain_running = self.stopping = False
        #: the workers (uWSGI numbers them from 1) a restart asked for
        #: has yet to replace
        self.to_replace = set()

    def __call__(self, line):
        """The level to log ``line`` at, and the line. A worker killed at
        the graceful timeout, once a stop was asked for, is what the
        timeout is for: it is said, not warned of."""
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


def start(command, env, pass_fds=()):
    """One of the two programs, its output on a pipe to this process."""
    return subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, pass_fds=pass_fds,
        preexec_fn=die_with_parent,
        # a signal to this process's group (Ctrl-C in a terminal) comes to
        # this process alone, which tells the others
        start_new_session=True)


def die_with_parent():
    """In the program, before it starts: have the kernel kill it should
    the runner die first (SIGKILL: a master in the middle of a graceful
    stop holds SIGINT back, and one was left running so); the workers
    leave when their master goes (--no-orphans)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not on Linux
        pass


def relay_lines(stream, lines, name):
    """A program's own lines, each through the runner's logging at the
    level ``lines`` gives it, if any (the ini file's logging decides what
    is shown), as ``tutorial.server.<name>``: apart from the runner's own
    logger, whose start line production.ini shows at INFO."""
    program_log = logging.getLogger('tutorial.server.' + name)
    for raw in stream:
        line = raw.decode('utf-8', 'replace').rstrip()
        if line:
            level, line = lines(line)
            if level is not None:
                program_log.log(level, '%s', line)
    stream.close()


def socket_path(folder):
    return os.path.join(folder, 'workers.sock')
