"""Beyond the step: the headers a deployed site sends with every answer.

- Content-Security-Policy: where the page may load anything from, and
  (frame-ancestors 'none') that no other page may frame it; X-Frame-Options
  says the same to browsers too old for CSP. Together they stop a page
  elsewhere from framing this one and tricking a click on its form.
- X-Content-Type-Options: nosniff, so a browser takes a response for what
  its Content-Type says and nothing else.
- Referrer-Policy: other sites are not told which page linked to them.
- Cache-Control: private, no-store, and Vary: Cookie, on everything the
  app renders, since every page shows or sets one visitor's session: no
  shared cache may keep it and hand it to another visitor. What the app
  serves as static files keeps the caching its view gives it.
- Strict-Transport-Security, when set (production.ini): browsers come back
  over HTTPS only.

Each is a setting with a default here; the ini files name them.
"""
from pyramid.tweens import INGRESS

from ..config.settings import words_setting

DEFAULTS = {
    'tutorial.content_security_policy': (
        "default-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'; object-src 'none'"),
    'tutorial.referrer_policy': 'same-origin',
    'tutorial.strict_transport_security': '',
}

#: What every page that shows a session is sent with, unless its view
#: said otherwise.
PRIVATE = 'private, no-store'


#: Where the registry keeps them once made.
HEADERS_KEY = 'tutorial.security.headers'


def security_headers(registry):
    """The (name, value) pairs added to every response: made from the
    registry's settings once, for every layer that answers."""
    headers = registry.get(HEADERS_KEY)
    if headers is None:
        headers = registry[HEADERS_KEY] = headers_from(registry.settings)
    return headers


def headers_from(settings):
    setting = {name: ' '.join(words_setting(settings, name,
                                            default=default))
               for name, default in DEFAULTS.items()}
    headers = [
        ('Content-Security-Policy',
         setting['tutorial.content_security_policy']),
        ('X-Frame-Options', 'DENY'),
        ('X-Content-Type-Options', 'nosniff'),
        ('Referrer-Policy', setting['tutorial.referrer_policy']),
    ]
    if setting['tutorial.strict_transport_security']:
        headers.append(('Strict-Transport-Security',
                        setting['tutorial.strict_transport_security']))
    return [(name, value) for name, value in headers if value]


def add_security_headers(response, headers):
    headerlist = response.headerlist
    present = {name.lower() for name, value in headerlist}
    if 'cache-control' not in present:
        headerlist.append(('Cache-Control', PRIVATE))
        # (pyramid_session_redis says Vary: Cookie itself)
        if 'vary' not in present:
            headerlist.append(('Vary', 'Cookie'))
        elif 'cookie' not in (name.lower() for name in response.vary):
            response.vary = tuple(response.vary) + ('Cookie',)
    headerlist.extend(headers)
    return response


def security_headers_tween_factory(handler, registry):
    headers = security_headers(registry)

    def security_headers_tween(request):
        return add_security_headers(handler(request), headers)
    return security_headers_tween


def includeme(config):
    # Outermost, so that every answer gets them: the request guard's 400
    # pages, the debug toolbar's pages and the exception views' included.
    config.add_tween(
        'tutorial.security.headers.security_headers_tween_factory',
        under=INGRESS)
