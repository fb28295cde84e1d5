"""Beyond the step: a form that changes the session and flashes a message.

The tutorial explains flash messages without building one. Here a POST
resets the session, stores a message in it and redirects (POST, redirect,
GET); home.pt shows the message once, above the form.
"""
from pyramid.exceptions import BadCSRFToken
from pyramid.httpexceptions import HTTPSeeOther

#: Bounds on the flash queue, so that posts whose redirect is never
#: followed cannot grow the session past what a cookie holds. A message
#: is measured as it sits in the cookie: as JSON, where a character that
#: is not ASCII takes six bytes (\uXXXX) or twelve.
MAX_FLASH_MESSAGES = 3
MAX_FLASH_BYTES = 600

#: The key Pyramid's sessions keep their default flash queue under
#: (test_flash's reset test fails if that changes).
FLASH_KEY = '_f_'

RESET_MESSAGE = 'The counter was reset: a new session has begun.'


def flash(request, message):
    """Queue a message for the next page, keeping the queue bounded."""
    session = request.session
    session.flash(message, allow_duplicate=False)
    queue = session.peek_flash()
    del queue[:-MAX_FLASH_MESSAGES]


def reset(request):
    """Forget the visitor's session, then send them to the home page."""
    request.session.invalidate()
    flash(request, RESET_MESSAGE)
    return HTTPSeeOther(location=request.route_path('home'))


def bad_csrf(request):
    """A POST without this session's CSRF token: refuse it, change nothing."""
    request.response.status = 400
    return {
        'title': 'form refused',
        'heading': 'This form could not be accepted',
        'paragraphs': [
            "It did not carry this site's security token, so nothing was "
            'changed. This happens when a form comes from another site, or '
            'from a page opened before your session was reset. Try again '
            'from the home page.',
        ],
    }


def includeme(config):
    config.set_default_csrf_options(require_csrf=True)
    config.add_route('reset', '/reset')
    config.add_view(reset, route_name='reset', request_method='POST')
    config.add_view(bad_csrf, context=BadCSRFToken, renderer='message.pt')
