"""Beyond the step: a cookie store whose contents only the server can read.

The step's cookie is signed, not secret: anyone can decode it and read the
count, the flash messages and the CSRF token. Here the same session, in the
same cookie, is encrypted and authenticated with AES-256-GCM-SIV, under a
key derived (HKDF-SHA256) from the session secret for this purpose alone,
so that it is never the bytes a signature is made with. The secrets are
the signed store's: the current one encrypts, old ones are still read, and
what an old one encrypted goes out encrypted with the current one.

GCM-SIV rather than GCM: each cookie gets a random 96-bit nonce, and with
GCM two cookies that drew the same nonce would give away the key stream
and the power to forge; with GCM-SIV they give away only whether the two
sessions were the same. A busy site writes a cookie on every request, so
that is a bound it could meet in a secret's lifetime.
"""
import base64
import os

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from pyramid.session import BaseCookieSessionFactory

from ..config.settings import refuse
from .data import SessionSerializer
from .factories import cookie_flags, replace_session_factory, \
    urlsafe_b64decode
from .secrets import derived_key, session_secrets

#: What the key is for: HKDF makes a different key for each purpose.
KEY_PURPOSE = b'tutorial session cookie: AES-256-GCM-SIV'
#: Bound to every cookie, so that nothing encrypted under these keys for
#: another use reads as a session.
ASSOCIATED_DATA = b'tutorial.session'
NONCE_SIZE = 12


def encryption_key(secret):
    """The 256-bit key ``secret`` gives the encrypted store."""
    return derived_key(secret, KEY_PURPOSE)


class SessionCipher:
    """Encrypts with the current secret's key; reads what any accepted
    secret's key encrypted. The signer's role (``dumps``, ``loads``) under
    Pyramid's BaseCookieSessionFactory."""

    def __init__(self, secret, old_secrets=(), serializer=None):
        self.serializer = serializer or SessionSerializer()
        self.ciphers = [AESGCMSIV(encryption_key(s))
                        for s in [secret, *old_secrets]]

    def dumps(self, appstruct):
        nonce = os.urandom(NONCE_SIZE)
        sealed = self.ciphers[0].encrypt(
            nonce, self.serializer.dumps(appstruct), ASSOCIATED_DATA)
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=')

    def loads(self, bstruct):
        sealed = urlsafe_b64decode(bstruct)
        nonce, sealed = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:]
        if len(nonce) == NONCE_SIZE:
            for cipher in self.ciphers:
                try:
                    payload = cipher.decrypt(nonce, sealed, ASSOCIATED_DATA)
                except InvalidTag:
                    continue
                return self.serializer.loads(payload)
        raise ValueError('session cookie not encrypted by any accepted '
                         'secret')


def session_cipher(settings):
    try:
        return SessionCipher(*session_secrets(settings))
    except UnsupportedAlgorithm:
        refuse('the encrypted session store needs AES-GCM-SIV, which the '
               'OpenSSL that cryptography uses lacks (it needs 3.2 or '
               'newer): pip install --upgrade cryptography')


def includeme(config):
    settings = config.get_settings()
    replace_session_factory(config, BaseCookieSessionFactory(
        session_cipher(settings), **cookie_flags(settings)))
