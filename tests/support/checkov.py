"""checkov, in a virtual environment of its own.

checkov brings a hundred packages, some with no wheel for the newest
Pythons, and pins some that the tests use too: so it is not among the
test command's packages. The first test that needs it installs it, at
the version below, into the user's cache, where later runs find it.
"""
import fcntl
import os
import subprocess
import venv

CHECKOV = 'checkov == 3.3.30'
CACHE = os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
    'tutorial-tests')


def checkov():
    """The path of checkov's command, installed first if need be."""
    folder = os.path.join(CACHE, CHECKOV.replace(' ', ''))
    command = os.path.join(folder, 'bin', 'checkov')
    stamp = os.path.join(folder, 'installed')
    os.makedirs(CACHE, exist_ok=True)
    with open(folder + '.lock', 'w') as lock:
        # another run installing it at the same time waits here
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(stamp):
            venv.create(folder, clear=True, with_pip=True)
            done = subprocess.run(
                [os.path.join(folder, 'bin', 'python'), '-m', 'pip',
                 'install', '--quiet', '--disable-pip-version-check',
                 CHECKOV], capture_output=True, text=True, timeout=900,
                stdin=subprocess.DEVNULL)
            if done.returncode:
                raise AssertionError('pip install %s failed:\n%s' % (
                    CHECKOV, done.stderr[-3000:]))
            open(stamp, 'w').close()
    return command
