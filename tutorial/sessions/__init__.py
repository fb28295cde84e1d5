"""Beyond the step: where request.session lives and what it may hold:
the secret and its signer, the data a session may come back with, the
store one setting picks (the step's signed cookie, an encrypted cookie or
Redis), and a session's absolute lifetime."""


def includeme(config):
    # the store first: the lifetime wraps whichever factory it registered
    config.include('.stores')
    config.include('.lifetime')
