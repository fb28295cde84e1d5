"""Beyond the step: what an operator watches: /metrics, the /healthz and
/readyz probes, and warnings that come once a request, summed up."""

#: Where prometheus_client's multiprocess mode keeps the workers' numbers.
#: Named here, apart from metrics.py, so that the server can set it
#: without importing prometheus_client, which reads it when first
#: imported.
MULTIPROC_ENV = 'PROMETHEUS_MULTIPROC_DIR'


def includeme(config):
    config.include('.queue_warnings')
    # the counting, /metrics, and the probes, which it answers
    config.include('.metrics')
