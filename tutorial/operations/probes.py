"""Beyond the step: /healthz and /readyz, the two questions a load
balancer or an orchestrator asks.

- GET /healthz: is the process alive? 200 and "ok", always: nothing is
  read, no store is asked. A failing one means "restart me".
- GET /readyz: can it serve? 200 while the session store answers (the
  cookie stores always do); 503 and the cause, its secrets masked, while
  it does not. A failing one means "send me no visitors for now", which
  is what a Redis outage needs: the process itself is fine.

Both are answered before Pyramid sees the request, so whatever the Host
header says (probes use addresses), with no session, no template and no
log line; with the security headers and ``Cache-Control: no-store``. HEAD
works too; any other method gets a 405.
"""
from ..security.headers import security_headers

#: Where a store puts its readiness check: a function that returns None
#: while it can serve, else why not.
READINESS = 'tutorial.readiness'

HEALTHZ = '/healthz'
READYZ = '/readyz'


class Probes:
    """The WSGI app that answers /healthz and /readyz, and only them."""

    def __init__(self, registry):
        self.registry = registry
        self.headers = [('Cache-Control', 'no-store')] + \
            security_headers(registry)
        self.readiness = registry.get(READINESS)

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO')
        method = environ.get('REQUEST_METHOD')
        extra = []
        if method not in ('GET', 'HEAD'):
            status, text = '405 Method Not Allowed', 'GET or HEAD only'
            extra = [('Allow', 'GET, HEAD')]
        elif path == HEALTHZ:
            status, text = '200 OK', 'ok'
        else:
            problem = self.readiness() if self.readiness else None
            if problem is None:
                status, text = '200 OK', 'ready'
            else:
                status = '503 Service Unavailable'
                text = 'not ready: the session store: %s' % problem
        body = (text + '\n').encode('utf-8')
        start_response(status, [
            ('Content-Type', 'text/plain; charset=utf-8'),
            ('Content-Length', str(len(body)))] + extra + self.headers)
        return [] if method == 'HEAD' else [body]


def probes(registry):
    """The probes' paths, each with the app that answers it (the metrics'
    middleware, metrics.py, sends them there)."""
    answer = Probes(registry)
    return {HEALTHZ: answer, READYZ: answer}
