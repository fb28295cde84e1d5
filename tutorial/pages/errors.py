"""Beyond the step: the app's short pages for errors.

The pages it answers with when it cannot show the one asked for (404, the
request guard's 400s, the Redis store's 503 and 429), all from message.pt,
in the app's look. Those pages say the same to everyone, so each is
rendered once, at start-up, and holds nothing from the request.
"""
import os

from chameleon import PageTemplateFile
from pyramid.response import Response
from pyramid.view import notfound_view_config

HERE = os.path.dirname(__file__)
MESSAGE = PageTemplateFile(os.path.join(HERE, 'message.pt'))


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


def includeme(config):
    config.scan('.errors')
