"""Beyond the step: production's server, a worker process per core, and
what the proxy in front of it says, believed from that proxy alone."""
