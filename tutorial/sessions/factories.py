"""Beyond the step: what every store's session factory shares: the
cookie's name and flags, the session's idle timeout, the cookie's base64
read strictly, and how a store's factory takes the step's place."""
import base64
import re
import warnings

from ..config.settings import bool_setting, int_setting

#: The session cookie's name, in every store (Pyramid's and
#: pyramid_session_redis's default).
COOKIE_NAME = 'session'
#: Pyramid's idle timeout, the step's.
DEFAULT_TIMEOUT = 1200


def cookie_flags(settings):
    """The session cookie's flags, for every store: never readable by a
    page's scripts, not sent with other sites' forms, and in production
    (``tutorial.secure_cookie``) sent over HTTPS only; and the session's
    idle timeout."""
    return {
        'cookie_name': COOKIE_NAME,
        'secure': bool_setting(settings, 'tutorial.secure_cookie'),
        'httponly': True,
        'samesite': 'Lax',
        'timeout': session_timeout(settings),
    }


def session_timeout(settings):
    """How long a session lives unused, in seconds: Pyramid's idle
    timeout, the step's 1200 unless ``tutorial.session_timeout`` says."""
    return int_setting(settings, 'tutorial.session_timeout',
                       default=DEFAULT_TIMEOUT, minimum=1, unit='seconds')


def replace_session_factory(config, factory):
    """Register ``factory`` in place of the step's, from a store's
    includeme.

    What main() itself configures wins over what an include does, in
    Pyramid's conflict resolution, and main() hands the step's factory to
    the Configurator; so what is pending is committed first, as Pyramid's
    documentation advises for overriding, and this factory then replaces
    it.
    """
    config.commit()
    config.set_session_factory(factory)


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
