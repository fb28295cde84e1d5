"""Beyond the step: what an operator watches: /metrics, the /healthz and
/readyz probes, and warnings that come once a request, summed up."""


def includeme(config):
    config.include('.queue_warnings')
    config.include('.metrics')
    config.include('.probes')
