"""Beyond the step: what a request must pass before the app reads it,
and the headers every answer carries."""


def includeme(config):
    config.include('.request_guard')
    config.include('.headers')
