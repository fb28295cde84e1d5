"""Session cookies as a test makes, reads or sends them, and the count a
page shows."""
import base64
import json
import re
import time

from webob.cookies import SignedSerializer

from tutorial.sessions.secrets import DEVELOPMENT_SECRET

#: A secret production accepts, for the apps the tests build from its ini.
PRODUCTION_SECRET = 'tests-production-secret-0123456789-' * 2


def count_on(page_text):
    """The number a page shows after 'Count:'; one per page, or fail."""
    counts = re.findall(r'Count: (\d+)', page_text)
    assert len(counts) == 1, 'expected one count on the page: %r' % counts
    return int(counts[0])


class Raw:
    """Passes bytes through, so a test can sign any payload at all."""

    def dumps(self, value):
        return value

    def loads(self, value):
        return value


def https_client(app):
    """A WebTest client that reaches ``app`` at https://localhost/, as a
    browser behind production's TLS proxy does: it sends the Secure
    cookie, and its forms pass Pyramid's check of their origin."""
    import webtest

    return webtest.TestApp(app, extra_environ={
        'wsgi.url_scheme': 'https', 'HTTP_HOST': 'localhost',
        'SERVER_PORT': '443'})


def forge_cookie(payload, secret=DEVELOPMENT_SECRET):
    """Sign ``payload`` as Pyramid's SignedCookieSessionFactory would.

    ``payload`` is a session's data (wrapped in the factory's envelope of
    times) or, as bytes, exactly what goes inside the signature.
    """
    if not isinstance(payload, bytes):
        now = time.time()
        payload = json.dumps([now, now, payload]).encode('utf-8')
    signer = SignedSerializer(
        secret, 'pyramid.session.', 'sha512', serializer=Raw())
    return signer.dumps(payload).decode('ascii')


def session_in(cookie):
    """The data a signed session cookie carries (read, not verified)."""
    raw = base64.urlsafe_b64decode(cookie + '=' * (-len(cookie) % 4))
    return json.loads(raw[64:])[2]  # past the sha512 signature
