"""Beyond the step: the step's signed cookie, readable under old secrets
while the secret is changed.

main() registers the step's SignedCookieSessionFactory, which signs with
the one secret. While old secrets are named, a signer that still reads
what they signed replaces it (``includeme``); the cookie it writes is
the step's, byte for byte.
"""
import base64
import hmac

from pyramid.session import BaseCookieSessionFactory
from webob.cookies import JSONSerializer

from .data import SessionSerializer
from .factories import cookie_flags, replace_session_factory, \
    urlsafe_b64decode
from .secrets import session_secrets

#: The salt Pyramid's SignedCookieSessionFactory signs with.
SESSION_SALT = 'pyramid.session.'


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


def includeme(config):
    """While old secrets are named, sessions are signed by the signer that
    reads them too; otherwise the step's factory stays as main() made it."""
    settings = config.get_settings()
    secret, old_secrets = session_secrets(settings)
    if old_secrets:
        replace_session_factory(config, BaseCookieSessionFactory(
            SessionSigner(secret, old_secrets,
                          serializer=SessionSerializer()),
            **cookie_flags(settings)))
