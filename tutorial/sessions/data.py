"""What a session may hold when it comes back from the client.

A signed cookie is held by the client, and the development secret is
public, so a cookie may carry anything JSON can; a Redis store may hold
what an older version of the app wrote. Everything a session brings back
is checked here before a view sees it, whichever store kept it.
"""
import json
import re

from ..pages.flash import FLASH_KEY, MAX_FLASH_BYTES, MAX_FLASH_MESSAGES

#: The largest counter kept; one past it starts the count again. It is the
#: largest integer a browser's JavaScript can hold exactly.
MAX_COUNTER = 2 ** 53 - 1

#: A session's times are seconds since 1970; later than this is not one.
MAX_TIME = 2 ** 32

# The key Pyramid's sessions keep their CSRF token under (the flash
# queue's is flash.py's), and the tokens' shape: 40 hex digits from
# Pyramid's cookie session, 64 from pyramid_session_redis.
CSRF_KEY = '_csrft_'
_CSRF_TOKEN = re.compile(r'[0-9a-f]{40,64}\Z')


#: The types of JSON's numbers (a bool, though an int, is neither).
NUMBER_TYPES = (int, float)


def is_int(value):
    return type(value) is int


def is_time(value):
    # comparisons, unlike math.isfinite, take any int; NaN fails them
    return type(value) in NUMBER_TYPES and 0 <= value <= MAX_TIME


def _is_short_text(value):
    return (isinstance(value, str)
            and len(value) <= MAX_FLASH_BYTES
            and len(json.dumps(value)) <= MAX_FLASH_BYTES)


def clean_state(state):
    """Return the part of a session's data that this app can use.

    Values the app did not write, in a shape it cannot use, are dropped
    rather than trusted; so are keys it does not know, which also bounds
    the size of the session.
    """
    if type(state) is not dict:
        return {}
    clean = {}
    counter = state.get('counter')
    if is_int(counter) and 0 <= counter <= MAX_COUNTER:
        clean['counter'] = counter
    messages = state.get(FLASH_KEY)
    if type(messages) is list:
        messages = [
            m for m in messages[-MAX_FLASH_MESSAGES:] if _is_short_text(m)
        ]
        if messages:
            clean[FLASH_KEY] = messages
    token = state.get(CSRF_KEY)
    if type(token) is str and _CSRF_TOKEN.match(token):
        clean[CSRF_KEY] = token
    return clean


#: json.dumps with any option makes a new encoder on every call; this one
#: is made once.
_COMPACT_JSON = json.JSONEncoder(separators=(',', ':'))


def dump_json(value):
    """Compact JSON bytes: a session's form in a cookie or in Redis."""
    return _COMPACT_JSON.encode(value).encode('utf-8')


class SessionSerializer:
    """JSON for the session cookie, checked on the way in.

    Pyramid signs (or encrypts) and reads the cookie around this
    serializer, and starts a new session when ``loads`` raises ValueError.
    """

    def dumps(self, appstruct):
        return dump_json(appstruct)

    def loads(self, bstruct):
        try:
            renewed, created, state = json.loads(bstruct.decode('utf-8'))
        except (TypeError, ValueError, RecursionError) as e:
            # RecursionError: JSON nested deeper than Python's stack.
            raise ValueError('session cookie is not a session') from e
        if not (is_time(renewed) and is_time(created)):
            raise ValueError('session cookie has no valid times')
        return [renewed, created, clean_state(state)]
