"""Beyond the step: the app's own look, and its short pages for errors.

A stylesheet and an icon, served by the app; and the pages it answers
with when it cannot show the one asked for (404, the request guard's 400s,
the Redis store's 503), all from message.pt. Those pages say the same to
everyone, so each is rendered once, at start-up, and holds nothing from
the request.
"""
import os

from chameleon import PageTemplateFile
from pyramid.response import FileResponse, Response
from pyramid.view import notfound_view_config

HERE = os.path.dirname(__file__)
MESSAGE = PageTemplateFile(os.path.join(HERE, 'message.pt'))

#: How long browsers may keep the stylesheet and the icon, in seconds.
STATIC_MAX_AGE = 3600


def message_page(title, heading, *paragraphs):
    """A short page in the app's look, as UTF-8 bytes."""
    return MESSAGE(title=title, heading=heading,
                   paragraphs=paragraphs).encode('utf-8')


NOT_FOUND_PAGE = message_page(
    'page not found', 'There is no page at this address',
    'Check the address, or start again from the home page.')


def html_response(body, status):
    return Response(body, status=status, content_type='text/html',
                    charset='utf-8')


@notfound_view_config()
def not_found(request):
    return html_response(NOT_FOUND_PAGE, 404)


def static_file(name, content_type):
    """A view of one file in static/, which browsers may keep a while."""
    path = os.path.join(HERE, 'static', name)

    def view(request):
        response = FileResponse(path, request=request,
                                content_type=content_type)
        # Not FileResponse's cache_max_age: WebOb computes its Expires
        # with datetime.utcnow(), deprecated since Python 3.12.
        response.cache_control.max_age = STATIC_MAX_AGE
        return response
    return view


def includeme(config):
    config.add_route('stylesheet', '/static/tutorial.css')
    config.add_view(static_file('tutorial.css', 'text/css'),
                    route_name='stylesheet')
    config.add_route('favicon', '/favicon.ico')
    config.add_view(static_file('favicon.ico', 'image/x-icon'),
                    route_name='favicon')
    config.scan('.errors')
