"""WSGI middleware that includes put around the app main() makes.

Most additions are tweens, inside Pyramid. A few must stand outside it:
the Redis store's 503 (pyramid_session_redis saves in a finished
callback, after every tween), the probes (answered before Pyramid reads
the Host header) and the metrics (which count what the others answer).
An include names its middleware here; main()'s last line puts them on.
"""

#: Where includes list the middleware, innermost first.
MIDDLEWARE = 'tutorial.config.middleware'


def add_middleware(config, factory):
    """Put ``factory(app, registry)`` around the app; each one added wraps
    the ones added before it."""
    config.registry.setdefault(MIDDLEWARE, []).append(factory)


def with_middleware(app):
    """The app, inside the middleware its includes named, if any."""
    registry = app.registry
    for factory in registry.get(MIDDLEWARE, ()):
        app = factory(app, registry)
    return app
