"""The project's folders and programs, the app's settings in the
environment, and the programs a suite needs."""
import os
import shutil
import subprocess
import sys

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
PSERVE = os.path.join(BIN, 'pserve')


#: Every environment variable that changes how the app runs starts so: a
#: test names the ones it wants, and none leaks in from the developer's
#: shell.
SETTINGS_PREFIX = 'TUTORIAL_'

#: Each program a suite runs, and the Debian package that brings it:
#: README.txt's apt line names every one of these packages (a test in
#: tests/test_config/test_layout.py checks it).
PACKAGES = {
    'chromium': 'chromium',
    'redis-server': 'redis-server',
    'redis-sentinel': 'redis-sentinel',
    'redis-cli': 'redis-tools',
    'nginx': 'nginx',
    'envsubst': 'gettext-base',
    'openssl': 'openssl',
    'git': 'git',
    'podman': 'podman',
    'runc': 'runc',
    'iptables': 'iptables',
    'debootstrap': 'debootstrap',
}

#: A Redis server, sentinel and client by role: Redis's own programs, or
#: Valkey's (the fork Debian ships beside or instead of Redis), whichever
#: the machine has; REDIS_SERVER names another server (a path or a
#: program), whose sentinel and client are found beside it.
REDIS_ROLES = {'server': 'redis-server', 'sentinel': 'redis-sentinel',
               'cli': 'redis-cli'}
REDIS_SERVER_ENV = 'REDIS_SERVER'


def settings_env(environ=os.environ):
    """The app's settings in ``environ``, by name."""
    return [name for name in environ if name.startswith(SETTINGS_PREFIX)]


def missing(message):
    """Skip a test for want of something, or fail it under CI."""
    import pytest

    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
        pytest.fail(message)
    pytest.skip(message)


def not_found(program):
    """What to say of a program that is not on PATH: its package."""
    package = PACKAGES[program]
    return ('%s not found: install Debian\'s %s package (apt-get install '
            '%s) to run these tests' % (program, package, package))


def require(program):
    """The path of a program the suite needs (PACKAGES names its Debian
    package), or skip (under CI, fail)."""
    path = shutil.which(program)
    if path is None:
        missing(not_found(program))
    return path


def find_redis(role):
    """The path of the Redis server, sentinel or client (``role``) the
    suites run, REDIS_SERVER's kind, else Redis's, else Valkey's; or None
    and what is missing."""
    program = REDIS_ROLES[role]
    named = os.environ.get(REDIS_SERVER_ENV)
    if not named:
        for name in (program, program.replace('redis', 'valkey')):
            path = shutil.which(name)
            if path is not None:
                return path, None
        return None, not_found(program)
    server = shutil.which(named)
    if server is None:
        return None, '%s=%s: no such program' % (REDIS_SERVER_ENV, named)
    if role == 'server':
        return server, None
    beside = server[:-len('server')] + role
    if server.endswith('-server') and os.path.exists(beside):
        return beside, None
    return None, '%s=%s: no %s beside it' % (REDIS_SERVER_ENV, named, role)


def redis_program(role):
    """The path of the Redis program in ``role``, or skip (under CI,
    fail)."""
    path, why = find_redis(role)
    if path is None:
        missing(why)
    return path


def redis_version():
    """Which server the Redis suites run against, in one line: its path
    and the version it reports."""
    server, why = find_redis('server')
    if server is None:
        return why
    answer = subprocess.run([server, '--version'], capture_output=True,
                            text=True).stdout.split()
    version = next((word[2:] for word in answer if word.startswith('v=')),
                   '?')
    return '%s %s' % (server, version)
