"""Beyond the step: the app's look, a stylesheet and an icon from
static/, served by the app (behind nginx, nginx serves them)."""
import os

from pyramid.response import FileResponse

HERE = os.path.dirname(__file__)
#: How long browsers may keep the stylesheet and the icon, in seconds.
STATIC_MAX_AGE = 3600


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
