"""deploy/kubernetes, checked with the ecosystem's own tools: the schemas
of Kubernetes releases (kubernetes-validate), checkov's security checks
(on the Dockerfile and compose.yaml too) and yamllint. Each kustomization
is read as kubectl reads it (tests/support/kubernetes.py). podman plays
the manifests in tests/test_container.py.
"""
import json
import os
import subprocess

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from tests.support.checkov import checkov
from tests.support.kubernetes import (
    KUBERNETES,
    build,
    kustomizations,
    of_kind,
    )
from tests.support.project import BIN, PROJECT

#: Kubernetes keeps its three newest minor releases up to date: the newest
#: that kubernetes-validate knows, and the oldest of those three.
NEWEST = all_versions()[-1]
_major, _minor = NEWEST.split('.')[:2]
OLDEST_SUPPORTED = '%s.%d.0' % (_major, int(_minor) - 2)


@pytest.mark.parametrize('version', [NEWEST, OLDEST_SUPPORTED])
@pytest.mark.parametrize('folder', kustomizations(),
                         ids=lambda folder: folder or 'all')
def test_each_kustomization_is_valid_for_kubernetes(folder, version):
    assert OLDEST_SUPPORTED in all_versions()
    for resource in build(folder):
        # strict: a field the schema does not know is an error too
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_app_keeps_serving_through_updates_and_drains():
    objects = build()
    app, = of_kind(objects, 'Deployment')
    assert app['spec']['replicas'] >= 2
    assert app['spec']['strategy']['rollingUpdate']['maxUnavailable'] == 0
    budget, = of_kind(objects, 'PodDisruptionBudget')
    assert budget['spec']['minAvailable'] == 1
    assert budget['spec']['selector'] == app['spec']['selector']
    container, = app['spec']['template']['spec']['containers']
    probes = {name: container[name]['httpGet']['path'] for name in (
        'startupProbe', 'livenessProbe', 'readinessProbe')}
    assert probes == {'startupProbe': '/healthz',
                      'livenessProbe': '/healthz',
                      'readinessProbe': '/readyz'}


def test_only_the_app_reaches_redis():
    objects = build()
    policies = {p['metadata']['name']: p['spec']
                for p in of_kind(objects, 'NetworkPolicy')}
    redis_set, = of_kind(objects, 'StatefulSet')
    app, = of_kind(objects, 'Deployment')
    redis = policies['tutorial-redis']
    assert redis['podSelector']['matchLabels'] \
        == redis_set['spec']['selector']['matchLabels']
    assert redis['ingress'] == [{
        'from': [{'podSelector': {
            'matchLabels': app['spec']['selector']['matchLabels']}}],
        'ports': [{'protocol': 'TCP', 'port': 6379}]}]


def test_each_overlay_replaces_redis_with_where_the_app_finds_it():
    for folder, variable in (('sentinel', 'TUTORIAL_REDIS_SENTINELS'),
                             ('cluster', 'TUTORIAL_REDIS_CLUSTER')):
        objects = build(folder)
        assert not of_kind(objects, 'StatefulSet')
        location, = of_kind(objects, 'ConfigMap')
        assert variable in location['data']


def test_yamllint_finds_nothing():
    done = subprocess.run(
        [os.path.join(BIN, 'yamllint'), '--strict', '--format', 'parsable',
         KUBERNETES, os.path.join(PROJECT, 'compose.yaml')],
        capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, '', '')


def test_checkov_finds_nothing_and_each_skip_says_why():
    if os.environ.get('CONTAINER_TESTS') == 'skip':
        pytest.skip('CONTAINER_TESTS=skip: checkov runs on the host, with '
                    'the container tests')
    # (checkov reads --file and --directory, not both); compose.yaml is
    # in no framework of checkov's, which reads it and finds nothing
    files = [os.path.join(folder, name)
             for folder, _, names in os.walk(KUBERNETES)
             for name in names if name.endswith('.yaml')]
    files += [os.path.join(PROJECT, 'Dockerfile'),
              os.path.join(PROJECT, 'compose.yaml')]
    done = subprocess.run(
        [checkov(), '--skip-download', '--output', 'json',
         '--framework', 'kubernetes', 'dockerfile',
         *('--file=' + path for path in sorted(files))],
        capture_output=True, text=True, timeout=600, cwd=PROJECT,
        stdin=subprocess.DEVNULL, env=dict(
            # ask nothing of the network: no newer checkov, no guidelines
            os.environ, CKV_SKIP_PACKAGE_UPDATE_CHECK='true',
            BC_SKIP_MAPPING='TRUE'))
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    results = {report['check_type']: report['results'] for report in reports}
    assert sorted(results) == ['dockerfile', 'kubernetes']
    failed = [(check['check_id'], check['resource'])
              for result in results.values()
              for check in result['failed_checks']]
    assert failed == []
    skipped = {(check['check_id'],
                check['check_result']['suppress_comment'].strip())
               for result in results.values()
               for check in result['skipped_checks']}
    assert {check for check, _ in skipped} == {
        'CKV_K8S_43', 'CKV_K8S_40', 'CKV_DOCKER_7'}
    assert all(len(reason) > 20 for _, reason in skipped), skipped
    assert all(result['passed_checks'] for result in results.values())
    assert done.returncode == 0, done.stderr[-2000:]
