"""Beyond the step: the health check from the command line, for a
container (the image has Python, and no curl)::

    python3 -m tutorial.operations.check [URL]

asks URL (unless named, /healthz on this host, at the port the server
listens on: TUTORIAL_LISTEN's, else 6543) and exits 0 on a 200, else 1,
with one line saying what it got: a probe's answer, or why there was
none.
"""
import os
import sys
import urllib.error
import urllib.request

from ..config.settings import (
    DEFAULT_LISTEN,
    LISTEN_ENV,
    host_and_port,
    setting,
    )

TIMEOUT = 3


def default_url(environ=os.environ):
    """/healthz at the port the server listens on, on this host."""
    listen = setting({}, 'listen', LISTEN_ENV, DEFAULT_LISTEN, environ)
    host, port = host_and_port(listen) or host_and_port(DEFAULT_LISTEN)
    return 'http://%s:%d/healthz' % (
        '[::1]' if ':' in host else '127.0.0.1', port)


def check(url=None, timeout=TIMEOUT):
    """(exit status, the line to print) for one GET of ``url``."""
    url = url or default_url()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return 0, '%s: %d %s' % (url, answer.status, said(answer))
    except urllib.error.HTTPError as error:
        with error:
            return 1, '%s: %d %s' % (url, error.code, said(error))
    except (OSError, ValueError) as error:
        return 1, '%s: no answer (%s)' % (
            url, getattr(error, 'reason', None) or error)


def said(answer):
    """A probe's plain-text answer (its cause, for a 503 of /readyz) on
    one line; for any other page, its status's reason."""
    if answer.headers.get_content_type() != 'text/plain':
        return answer.reason
    return ' '.join(answer.read(300).decode('utf-8', 'replace').split())


def main(argv=sys.argv):
    status, line = check(*argv[1:2])
    print(line)
    return status


if __name__ == '__main__':
    sys.exit(main())
