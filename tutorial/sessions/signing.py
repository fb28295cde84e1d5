"""What a session secret must be, where it comes from, and changing it.

The step signs its cookie with a secret written in the code. Here the
secret is a setting in development and comes from the environment in
production, where a weak one stops the app. While the secret is being
changed, old secrets are named too: a signer that still reads what they
signed then replaces the step's factory (``includeme``).
"""
import base64
import hmac
import os
import re
import warnings

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pyramid.session import BaseCookieSessionFactory
from webob.cookies import JSONSerializer

from ..config.settings import (
    bool_setting,
    environment_setting,
    refuse,
    setting,
    )
from .data import SessionSerializer
from .stores import cookie_flags, replace_session_factory

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

#: The salt Pyramid's SignedCookieSessionFactory signs with.
SESSION_SALT = 'pyramid.session.'


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


class SessionSigner:
    """Signs with the current secret; reads what any accepted one signed.

    Pyramid's SignedCookieSessionFactory(secret) is BaseCookieSessionFactory
    over WebOb's SignedSerializer of that one secret, so a new secret voids
    every session at once. This signer writes what that one writes (an
    HMAC-SHA512 of the payload, keyed with the salt and the secret, then
    the payload, in URL-safe base64), but also reads cookies signed with an
    old secret; the response then carries the cookie signed again with the
    current one. Nothing is ever signed with an old secret. Each secret's
    HMAC is keyed once, here, rather than on every request.
    """

    def __init__(self, secret, old_secrets=(), salt=SESSION_SALT,
                 serializer=None):
        self.serializer = serializer or JSONSerializer()
        self.hmacs = [hmac.new(_signing_key(salt, s), digestmod='sha512')
                      for s in [secret, *old_secrets]]

    def dumps(self, appstruct):
        payload = self.serializer.dumps(appstruct)
        return base64.urlsafe_b64encode(
            _sign(self.hmacs[0], payload) + payload).rstrip(b'=')

    def loads(self, bstruct):
        return self.loads_with(bstruct)[0]

    def loads_with(self, bstruct):
        """Return what ``bstruct`` holds, and whether an old secret had to
        read it; ValueError if no accepted secret signed it."""
        signed = urlsafe_b64decode(bstruct)
        signature, payload = signed[:SIGNATURE_SIZE], signed[SIGNATURE_SIZE:]
        for n, secret_hmac in enumerate(self.hmacs):
            if hmac.compare_digest(_sign(secret_hmac, payload), signature):
                return self.serializer.loads(payload), n > 0
        raise ValueError('session cookie not signed by any accepted secret')


#: URL-safe base64 without its padding, as the cookies are written.
URLSAFE_BASE64 = re.compile(rb'[A-Za-z0-9_-]*')

# Python 3.15 warns that urlsafe_b64decode will one day discard a '+' or
# '/' rather than read it as '-' or '_'. WebOb's SignedSerializer (the
# step's factory) decodes the cookie so, and a client may send either:
# today the signature then fails, and the session starts anew; discarded,
# a character that was never in a cookie this app wrote leaves a cookie
# it did write. Either way nothing changes for the app, and a line in the
# log for each such request would only be a client's to fill.
warnings.filterwarnings(
    'ignore', category=FutureWarning,
    message=r"invalid character '[+/]' in URL-safe Base64 data will be "
            r'discarded')


def urlsafe_b64decode(bstruct):
    """The bytes a cookie's URL-safe base64 holds, read strictly: a
    character outside the alphabet is a ValueError, never skipped."""
    if not isinstance(bstruct, bytes) or not URLSAFE_BASE64.fullmatch(
            bstruct):
        raise ValueError('session cookie is not base64')
    try:
        return base64.urlsafe_b64decode(bstruct + b'=' * (-len(bstruct) % 4))
    except ValueError as e:  # a length no base64 has
        raise ValueError('session cookie is not base64') from e


#: The size of an HMAC-SHA512, which starts every signed cookie.
SIGNATURE_SIZE = 64


def _signing_key(salt, secret):
    # as WebOb's SignedSerializer makes it, so that cookies stay valid
    try:
        return (salt + secret).encode('latin-1')
    except UnicodeEncodeError:
        return (salt + secret).encode('utf-8')


def _sign(secret_hmac, payload):
    signature = secret_hmac.copy()
    signature.update(payload)
    return signature.digest()


def session_signer(settings, **kw):
    """The signer of this app's session cookies, old secrets included."""
    return SessionSigner(session_secret(settings),
                         old_session_secrets(settings), **kw)


def includeme(config):
    """While old secrets are named, sessions are signed by the signer that
    reads them too; otherwise the step's factory stays as main() made it."""
    settings = config.get_settings()
    if old_session_secrets(settings):
        replace_session_factory(config, BaseCookieSessionFactory(
            session_signer(settings, serializer=SessionSerializer()),
            **cookie_flags(settings)))
