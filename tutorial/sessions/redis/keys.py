"""Keys in Redis that are not the session ids.

The cookie carries a session's token, under the cookie signature; an id
plus the secret is a live session. So that whoever reads Redis (a
replica, a backup, MONITOR, a shared instance) reads no token, the key a
session lives under is derived one way from its token: HMAC-SHA256 with
a key that HKDF derives from the session secret for this purpose alone.
Why HMAC and not a bare SHA-256 (as Rails does): a list of keys then
cannot even be checked against guessed tokens without the secret, and
the key changes with the secret, which rotation already handles.

pyramid_session_redis only ever sees the derived key, as its "session
id". This module turns the cookie's token into that key (the signer's
``loads``), a new session's fresh token into one (the id generator), and
back, for the cookie (the signer's ``dumps``): that last works for the
keys of this request alone, which is all a response needs. A key read
from Redis never becomes a cookie.

While the secret is changed, a session written under the key an old
secret derived is found there, once, and moved to the current secret's
key: the rotation logs nobody out (SessionCommands.get, in
commands.py).
"""
import contextvars
import hashlib
import hmac
import secrets

from ..secrets import derived_key

#: What HKDF's ``info`` binds the key to: this use, and no other.
PURPOSE = b'tutorial redis session key v1'
#: The key's shape: the derived part is a hash tag, so that on a cluster
#: the session and its lock share a slot.
KEY_FORMAT = 'tutorial:session:{%s}'
LOCK_SUFFIX = ':lock'

#: This request's sessions: derived key -> Session (reset per request).
REQUEST_SESSIONS = contextvars.ContextVar('tutorial_redis_sessions')


def lock_key(key):
    return key + LOCK_SUFFIX


class Session:
    """What this request knows of one session: its token, its keys under
    the old secrets, and the lock's token if held."""

    __slots__ = ('token', 'old_keys', 'lock_token')

    def __init__(self, token, old_keys=()):
        self.token = token
        self.old_keys = old_keys
        self.lock_token = None


def request_sessions():
    """This request's sessions, by key (the session factory resets them
    at the start of each request)."""
    try:
        return REQUEST_SESSIONS.get()
    except LookupError:
        sessions = {}
        REQUEST_SESSIONS.set(sessions)
        return sessions


def begin_request():
    REQUEST_SESSIONS.set({})


class SessionKeys:
    """Derives the key of a token, under the current secret and the old
    ones (TUTORIAL_SESSION_OLD_SECRETS)."""

    def __init__(self, secret, old_secrets=()):
        self.hmacs = [hmac.new(self.key_for(s), digestmod=hashlib.sha256)
                      for s in [secret, *old_secrets]]

    @staticmethod
    def key_for(secret):
        return derived_key(secret, PURPOSE)

    def keys(self, token):
        """The token's key under each secret, the current one first."""
        found = []
        for secret_hmac in self.hmacs:
            digest = secret_hmac.copy()
            digest.update(token.encode('utf-8'))
            found.append(KEY_FORMAT % digest.hexdigest())
        return found

    def from_token(self, token):
        """The key of a cookie's token, noted for this request with its
        keys under the old secrets."""
        key, *old_keys = self.keys(token)
        # (read again, as the rotating signer does, it is the same one)
        request_sessions().setdefault(key, Session(token, old_keys))
        return key

    def new_key(self):
        """A new session: a fresh token (as pyramid_session_redis makes
        its ids), and its key."""
        token = secrets.token_urlsafe(48)
        key = self.keys(token)[0]
        request_sessions()[key] = Session(token)
        return key

    def token_of(self, key):
        """The token of one of this request's keys, for its cookie."""
        return request_sessions()[key].token


class SessionTokenText:
    """The cookie's payload, as pyramid_session_redis signs it: the token,
    in and out; what pyramid_session_redis handles is the key."""

    def __init__(self, keys):
        self.session_keys = keys

    def dumps(self, key):
        return self.session_keys.token_of(key).encode('ascii')

    def loads(self, bstruct):
        return self.session_keys.from_token(bstruct.decode('ascii'))
