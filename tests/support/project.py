"""The project's folders and programs, the app's settings in the
environment, and the programs a suite needs."""
import os
import shutil
import sys

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
PSERVE = os.path.join(BIN, 'pserve')


#: Every environment variable that changes how the app runs starts so: a
#: test names the ones it wants, and none leaks in from the developer's
#: shell.
SETTINGS_PREFIX = 'TUTORIAL_'


def settings_env(environ=os.environ):
    """The app's settings in ``environ``, by name."""
    return [name for name in environ if name.startswith(SETTINGS_PREFIX)]


def require(program, package):
    """The path of a program the suite needs, or skip (under CI, fail)."""
    path = shutil.which(program)
    if path is None:
        import pytest

        message = ('%s not found: install Debian\'s %s package '
                   '(apt-get install %s) to run these tests'
                   % (program, package, package))
        if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
            pytest.fail(message)
        pytest.skip(message)
    return path
