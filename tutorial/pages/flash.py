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
from pyramid.request import Request

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
RESET_PATH = '/reset'

#: What stands for the token in the form rendered once.
TOKEN_SLOT = 'csrf-token-goes-here'

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


class FlashFormRequest(Request):
    """Pyramid's request, with the form as a method: home.pt shows
    ``${request.flash_form()}``.

    A method of the request's class, rather than one added with
    config.add_request_method: Pyramid puts those on each request, as a
    property on a class made for that request, or as a method bound to
    the request, which makes a reference cycle that only Python's garbage
    collector can free. Either costs time on every page.
    """

    def flash_form(self):
        """The messages and the form (flash.pt), for home.pt to show."""
        session = self.session
        # pop_flash marks the session changed, and reads the clock twice,
        # even when there is nothing to pop: most pages have no message
        messages = session.pop_flash() if FLASH_KEY in session else ()
        csrf_token = get_csrf_token(self)
        action = self.script_name + RESET_PATH
        if messages:
            return render_form(messages, csrf_token, action)
        return form_alone(csrf_token, action)


def render_form(messages, csrf_token, action):
    return Markup(FORM(messages=messages, csrf_token=csrf_token,
                       action=action))


def form_alone(csrf_token, action):
    """The form with no message: flash.pt rendered once for the action,
    with each session's token (letters and digits, which HTML takes as
    they are) put in its place."""
    parts = form_around_token(action)
    if len(parts) == 2 and csrf_token.isascii() and csrf_token.isalnum():
        before, after = parts
        return Markup(before + csrf_token + after)
    return render_form((), csrf_token, action)


@functools.lru_cache(maxsize=16)
def form_around_token(action):
    """flash.pt without messages, split where the token goes; in more or
    fewer than two parts if it is not there once (then each form is
    rendered whole)."""
    return render_form((), TOKEN_SLOT, action).split(TOKEN_SLOT)


def includeme(config):
    config.set_default_csrf_options(require_csrf=True)
    config.add_route('reset', RESET_PATH)
    config.add_view(reset, route_name='reset', request_method='POST')
    config.add_view(bad_csrf, context=BadCSRFToken, renderer='message.pt')
    config.set_request_factory(FlashFormRequest)
