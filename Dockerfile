# The tutorial's production server in an image: `pserve production.ini`,
# nginx facing the clients on port 6543 of every interface, in front of
# uWSGI with a worker per core. nginx reads each request whole before a
# worker sees it, and keeps HTTP/1.1's rules, so the port may face
# clients straight (docs/container.rst says what it took, measured). TLS
# is a proxy's (compose.yaml runs nginx for it, with Redis).
#
#   docker build -t tutorial .
#   docker run --rm -e TUTORIAL_SESSION_SECRET=... -p 127.0.0.1:6543:6543 tutorial
#
# The base is the official Python image (Debian trixie); any image with
# python3, its venv module and Debian's archive will do, the same in
# both stages.
ARG PYTHON_IMAGE=docker.io/library/python:3.13-slim-trixie
# checkov reads a FROM's tag, and sees only the argument's name:
# checkov:skip=CKV_DOCKER_7: the tag is the argument's, 3.13-slim-trixie

# The build: a virtual environment with the app and what it needs.
FROM ${PYTHON_IMAGE} AS build
RUN python3 -m venv /opt/venv
WORKDIR /src
# The dependencies first, from setup.py alone, in a layer of their own:
# a change to the code leaves it as it is.
COPY setup.py pyproject.toml ./
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        ".[production,redis]"
COPY MANIFEST.in README.txt ./
COPY tutorial/ tutorial/
# The app itself, and nothing more; pip goes, since nothing installs later.
# pip compiles each module as it installs it: the workers, which each load
# the app as they start, import from bytecode, and a read-only image
# writes none (so PYTHONDONTWRITEBYTECODE would change nothing).
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        --no-deps . \
    && /opt/venv/bin/pip uninstall --yes --quiet pip

# What runs: the base, nginx, the virtual environment and the ini file;
# no compiler, no pip, no cache. nginx is Debian's; the server runs it
# with a configuration of its own, as the user below, so nginx's own
# files and logs go unused. (Not pinned, DL3008: a stable release's
# archive keeps only its newest version of each package, so a pinned one
# would stop building at the next security fix.)
FROM ${PYTHON_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
RUN groupadd --system --gid 10001 tutorial \
    && useradd --system --uid 10001 --gid tutorial --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin tutorial
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY production.ini ./
# Every interface, for the proxy on the container network; what the app
# writes (the workers' metrics, uWSGI's FIFO, nginx's configuration and
# buffers) goes under /tmp, so that the root file system may be
# read-only; a line is written as it is logged.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TUTORIAL_LISTEN=0.0.0.0:6543
USER 10001:10001
EXPOSE 6543
# /healthz asks nothing of Redis: a failing one means "restart me".
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-m", "tutorial.operations.check"]
# pserve runs as PID 1 and handles SIGTERM itself (tutorial/server/
# runner.py): no request is taken after it, those in flight get the
# graceful timeout (5 s) to finish, and every process is gone within 7 s,
# under the 10 s that docker and podman wait before they kill.
STOPSIGNAL SIGTERM
CMD ["pserve", "production.ini"]
