"""WSGI middleware that includes put around the app main() makes.

Most additions are tweens, inside Pyramid. A few must stand outside it:
the Redis store's 503 (pyramid_session_redis saves in a finished
callback, after every tween), and the operator's: the probes and
/metrics (answered before Pyramid reads the Host header) and the
counting of every other request, whoever answers it.
An include names its middleware here; main()'s last line puts them on,
in the order LAYERS gives, whatever the order of the includes.
"""

#: Where includes leave their middleware, by layer.
MIDDLEWARE = 'tutorial.config.middleware'

#: The layers, innermost first: the Redis store's 503 inside the
#: operator's layer, which counts it.
LAYERS = ('session store', 'operations')


def add_middleware(config, layer, factory):
    """Put ``factory(app, registry)`` around the app, as ``layer``."""
    if layer not in LAYERS:
        raise ValueError('no middleware layer %r (LAYERS names: %s)'
                         % (layer, ', '.join(LAYERS)))
    config.registry.setdefault(MIDDLEWARE, {})[layer] = factory


def with_middleware(app):
    """The app, inside the middleware its includes named, if any."""
    registry = app.registry
    named = registry.get(MIDDLEWARE, {})
    for layer in LAYERS:
        if layer in named:
            app = named[layer](app, registry)
    return app
