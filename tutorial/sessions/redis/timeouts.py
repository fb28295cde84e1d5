"""How long the store waits for Redis, and how long it then rests."""

#: How long a command may wait for Redis before the page says 503.
REDIS_TIMEOUT = 1.0
#: After Redis failed, how long requests get the 503 at once before one
#: of them asks Redis again: the breaker's reset timeout.
REDIS_PAUSE = 0.5

#: How every connection of the store behaves, whatever its kind.
TIMEOUTS = {
    'socket_timeout': REDIS_TIMEOUT,
    'socket_connect_timeout': REDIS_TIMEOUT,
}
