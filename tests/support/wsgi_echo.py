"""A WSGI app that shows what the server handed it: each HTTP_* value as
the hex of its latin-1 bytes, as JSON, checked on the way by wsgiref's
validator (PEP 3333's rules for the environ, start_response and the
body). The header tests serve it from an ini file's [app:main] with
``use = call:tests.support.wsgi_echo:make``."""
import json
import wsgiref.validate

from pyramid.registry import Registry

#: [app:main] for an ini file that serves the echo.
APP_SECTION = 'use = call:tests.support.wsgi_echo:make'


def echo(environ, start_response):
    headers = {name: value.encode('latin-1').hex()
               for name, value in environ.items()
               if name.startswith('HTTP_')}
    body = json.dumps(headers, sort_keys=True).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


def make(global_config, **settings):
    """The echo, as PasteDeploy builds an app; with a registry, as the
    servers' own layers expect of the app they wrap."""
    validated = wsgiref.validate.validator(echo)

    def app(environ, start_response):
        return validated(environ, start_response)
    app.registry = Registry('echo')
    app.registry.settings = settings
    return app
