"""Beyond the step: what a session secret must be, where it comes from,
and the old ones still read while it is changed.

The step signs its cookie with a secret written in the code. Here the
secret is a setting in development and comes from the environment in
production, where a weak one stops the app. Every store reads the
secrets here once, and hands them to what signs, encrypts or derives
keys with them.
"""
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config.settings import (
    bool_setting,
    environment_setting,
    refuse,
    setting,
    )

#: The printed tutorial's secret: public, so for development only.
DEVELOPMENT_SECRET = 'itsaseekreet'

#: Where production finds its secret, and the old ones it still reads.
SECRET_ENV = 'TUTORIAL_SESSION_SECRET'
OLD_SECRETS_ENV = 'TUTORIAL_SESSION_OLD_SECRETS'

#: Pyramid's advice for sha512 signatures: a secret of 64 bytes or more.
MIN_SECRET_LENGTH = 64
#: Fewer distinct characters than this is a pattern, not a secret: one
#: character repeated, whitespace, a word written over and over.
MIN_DISTINCT_CHARACTERS = 10

#: What to tell someone whose secret is refused.
MAKE_A_SECRET = (
    'make one with '
    '`python3 -c "import secrets; print(secrets.token_hex(32))"`')


def secret_problem(secret):
    """What makes ``secret`` unfit to sign sessions, or None."""
    if not secret:
        return 'is not set'
    if secret == DEVELOPMENT_SECRET:
        return "is the tutorial's public development secret"
    if len(secret) < MIN_SECRET_LENGTH:
        return 'is %d characters long; it needs at least %d' % (
            len(secret), MIN_SECRET_LENGTH)
    distinct = len(set(secret))
    if distinct < MIN_DISTINCT_CHARACTERS:
        return 'has only %d distinct characters; it needs at least %d' % (
            distinct, MIN_DISTINCT_CHARACTERS)
    return None


def _refuse(name, problem):
    refuse('%s %s: %s', name, problem, MAKE_A_SECRET)


def session_secret(settings, environ=os.environ):
    """Return the secret that signs session cookies.

    With ``tutorial.secret_from_env`` true (production.ini) it is read from
    the environment variable TUTORIAL_SESSION_SECRET, and a missing, weak
    or public one stops the application with a one-line message.
    """
    if not bool_setting(settings, 'tutorial.secret_from_env'):
        return setting(settings, 'tutorial.session_secret',
                       default=DEVELOPMENT_SECRET)
    secret = environment_setting(SECRET_ENV, environ)
    problem = secret_problem(secret)
    if problem:
        _refuse(SECRET_ENV, problem)
    return secret


def old_session_secrets(settings, environ=os.environ):
    """Return the old secrets whose cookies are still read, never signed.

    In production they come from TUTORIAL_SESSION_OLD_SECRETS, separated
    by whitespace, and each must pass the same checks as the secret.
    """
    if not bool_setting(settings, 'tutorial.secret_from_env'):
        return []
    old = environment_setting(OLD_SECRETS_ENV, environ).split()
    for n, secret in enumerate(old, 1):
        problem = secret_problem(secret)
        if problem:
            _refuse('%s (secret %d of %d)' % (OLD_SECRETS_ENV, n, len(old)),
                    problem)
    return old


def derived_key(secret, purpose):
    """A 256-bit key for ``purpose`` alone, derived from ``secret`` with
    HKDF-SHA256: never the bytes a signature is made with, and another for
    each purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=purpose).derive(secret.encode('utf-8'))


def session_secrets(settings, environ=os.environ):
    """The secret, and the old secrets still read: what a store that
    replaces the step's factory is made with."""
    return (session_secret(settings, environ),
            old_session_secrets(settings, environ))
