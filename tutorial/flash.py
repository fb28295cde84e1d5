"""Beyond the step: a form that changes the session and flashes a message.

The tutorial explains flash messages without building one. Here a POST
resets the session, stores a message in it and redirects (POST, redirect,
GET); the page after the redirect shows the message once.
"""
import functools
import os

from chameleon import PageTemplateFile
from chameleon.utils import Markup
from pyramid.csrf import get_csrf_token
from pyramid.exceptions import BadCSRFToken
from pyramid.httpexceptions import HTTPSeeOther

from .sessions import MAX_FLASH_MESSAGES

RESET_MESSAGE = 'The counter was reset: a new session has begun.'
RESET_PATH = '/reset'

#: How many sessions' forms are kept rendered (some 400 bytes each).
FORMS_KEPT = 4096

FORM = PageTemplateFile(os.path.join(os.path.dirname(__file__), 'flash.pt'))


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


def flash_form(request):
    """The messages and the form (flash.pt), for home.pt to show.

    A plain request method: one that is a property, reified or not, makes
    Pyramid build a new class for every request, a cost on every page.
    """
    messages = request.session.pop_flash()
    csrf_token = get_csrf_token(request)
    action = request.script_name + RESET_PATH
    if messages:
        return render_form(messages, csrf_token, action)
    return form_alone(csrf_token, action)


def render_form(messages, csrf_token, action):
    return Markup(FORM(messages=messages, csrf_token=csrf_token,
                       action=action))


@functools.lru_cache(maxsize=FORMS_KEPT)
def form_alone(csrf_token, action):
    """The form with no message: the same on every page of a session, so
    rendered once for it, not on every request."""
    return render_form((), csrf_token, action)


def includeme(config):
    config.set_default_csrf_options(require_csrf=True)
    config.add_route('reset', RESET_PATH)
    config.add_view(reset, route_name='reset', request_method='POST')
    config.add_view(bad_csrf, context=BadCSRFToken, renderer='message.pt')
    config.add_request_method(flash_form, 'flash_form')
