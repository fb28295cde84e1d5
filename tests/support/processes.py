"""Processes the tests start: ports, sockets, children and memory."""
import socket
import subprocess
import time


def wait_until_accepting(where, process, timeout):
    """Wait until something accepts connections at ``where``: a port on
    127.0.0.1, or a unix socket's path. True when it does; False when
    ``process`` ends or time runs out first."""
    family, address = (socket.AF_UNIX, where) if isinstance(where, str) \
        else (socket.AF_INET, ('127.0.0.1', where))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket(family) as s:
            s.settimeout(0.2)
            try:
                s.connect(address)
                return True
            except OSError:
                time.sleep(0.05)
    return False


def stop_process(process):
    """Ask ``process`` (if started, and still running) to stop, and kill
    it if it has not within 10 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def free_port():
    """A port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def children(pid):
    """The pids of the processes ``pid`` started, and that still run."""
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return [int(child) for child in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []  # it has ended


def descendants(pid):
    """Every process below ``pid``: its children, theirs, and so on."""
    found = []
    for child in children(pid):
        found += [child] + descendants(child)
    return found


def workers(pid):
    """Production's workers below ``pid``: the uWSGI processes that start
    none of their own (not the master), once they have loaded the app
    (mapped the cryptography bindings it imports). nginx, beside them,
    is none."""
    found = []
    for process in descendants(pid):
        if children(process):
            continue
        try:
            with open('/proc/%d/cmdline' % process, 'rb') as f:
                if b'pyuwsgi' not in f.read():
                    continue
            with open('/proc/%d/maps' % process, 'rb') as f:
                if b'/cryptography/' not in f.read():
                    continue  # a worker still loading
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended as it was read
        found.append(process)
    return found


def uwsgi_option(pid, option):
    """The value the uWSGI master below ``pid`` (pserve's process) was
    given for ``option`` (``--threads``), as its command line has it."""
    for child in children(pid):
        with open('/proc/%d/cmdline' % child, 'rb') as f:
            command = f.read().decode().split('\0')
        if option in command:
            return command[command.index(option) + 1]
    raise AssertionError('no uWSGI master below %d with %s' % (pid, option))


def rss_kb(pid):
    """The memory ``pid`` holds, in kB (0 once it has ended)."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def group_rss_kb(pid):
    """The memory of ``pid`` and every process it started, in kB."""
    return rss_kb(pid) + sum(group_rss_kb(child) for child in children(pid))


def workers_of(server, count, limit=30):
    """The worker pids, once ``count`` of them run (in ``limit`` s)."""
    deadline = time.monotonic() + limit
    while len(workers(server.process.pid)) != count:
        assert time.monotonic() < deadline, workers(server.process.pid)
        time.sleep(0.1)
    return workers(server.process.pid)
