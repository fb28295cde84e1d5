"""Beyond the step: a form that changes the session and flashes a message.

The tutorial explains flash messages without building one. Here a POST
resets the session, stores a message in it and redirects (POST, redirect,
GET); the page after the redirect shows the message once.
"""
from pyramid.csrf import get_csrf_token
from pyramid.exceptions import BadCSRFToken
from pyramid.httpexceptions import HTTPSeeOther

from .sessions import MAX_FLASH_MESSAGES

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
    return HTTPSeeOther(location=request.route_url('home'))


def bad_csrf(request):
    """A POST without this session's CSRF token: refuse it, change nothing."""
    request.response.status = 400
    return {}


def form_values(request):
    """What the form section of home.pt needs (see flash.pt)."""
    return {
        'messages': request.session.pop_flash(),
        'csrf_token': get_csrf_token(request),
    }


def includeme(config):
    config.set_default_csrf_options(require_csrf=True)
    config.add_route('reset', '/reset')
    config.add_view(reset, route_name='reset', request_method='POST')
    config.add_view(bad_csrf, context=BadCSRFToken, renderer='bad_csrf.pt')
    config.add_request_method(form_values, 'form_values', reify=True)
