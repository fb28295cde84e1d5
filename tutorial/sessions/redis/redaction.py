"""No line shows a password: URLs as they may be logged, and any text
with the URL's secrets taken out of it."""
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

#: Query options whose values are secrets.
SECRET_OPTIONS = ('password', 'ssl_password')


def masked(url):
    """``url`` as it may be logged: its password, if any, is ***."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, host = netloc.rpartition('@')
            netloc = '%s:***@%s' % (userinfo.partition(':')[0], host)
        query = urlencode(
            [(name, '***' if name in SECRET_OPTIONS else value)
             for name, value in parse_qsl(parts.query,
                                          keep_blank_values=True)],
            safe='/*')
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return '(a URL that cannot be read)'


def secrets_in(url):
    """The password-like strings in ``url``, as written and decoded."""
    try:
        parts = urlsplit(url)
        found = [parts.password] + [
            value for name, value in parse_qsl(parts.query)
            if name in SECRET_OPTIONS]
    except ValueError:
        # not even split: everything between '//' and the last '@'
        found = [url.partition('//')[2].rpartition('@')[0]]
    found = [secret for secret in found if secret]
    return found + [unquote(secret) for secret in found]


def scrubbed(text, url):
    """``text`` with any password from ``url`` replaced by ***."""
    for secret in sorted(secrets_in(url), key=len, reverse=True):
        text = text.replace(secret, '***')
    return text
