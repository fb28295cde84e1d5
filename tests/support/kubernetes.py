"""deploy/kubernetes, read as `kubectl apply -k` reads it, and made into
what podman 4.3 can play.

The kustomizations list resources alone (files, or folders with a
kustomization.yaml of their own), so reading them takes no kustomize:
kubectl is not among what the tests install.
"""
import base64
import contextlib
import copy
import json
import os

import yaml

from .project import PROJECT

KUBERNETES = os.path.join(PROJECT, 'deploy', 'kubernetes')
#: What the kustomizations may hold: anything else would need kustomize.
KUSTOMIZATION_FIELDS = {'apiVersion', 'kind', 'resources'}
#: The image's own health check (the Dockerfile's HEALTHCHECK).
IMAGE_CHECK = ['python3', '-m', 'tutorial.operations.check']


def kustomizations():
    """Every folder of deploy/kubernetes with a kustomization.yaml, by its
    path from there ('' for the top)."""
    folders = [os.path.relpath(folder, KUBERNETES)
               for folder, _, files in os.walk(KUBERNETES)
               if 'kustomization.yaml' in files]
    return sorted('' if folder == '.' else folder for folder in folders)


def build(folder=''):
    """The objects `kubectl kustomize` makes of ``folder``, in order; an
    AssertionError where it would refuse or need more than resources."""
    objects = _resources(os.path.join(KUBERNETES, folder))
    names = [(o['kind'], o['metadata'].get('namespace'), o['metadata']['name'])
             for o in objects]
    assert len(set(names)) == len(names), 'an object twice: %s' % names
    return objects


def _resources(folder):
    with open(os.path.join(folder, 'kustomization.yaml')) as f:
        kustomization = yaml.safe_load(f)
    assert set(kustomization) <= KUSTOMIZATION_FIELDS, kustomization
    objects = []
    for resource in kustomization['resources']:
        path = os.path.normpath(os.path.join(folder, resource))
        if os.path.isdir(path):
            objects += _resources(path)
        else:
            with open(path) as f:
                objects += [o for o in yaml.safe_load_all(f) if o]
    return objects


def of_kind(objects, kind):
    return [o for o in objects if o['kind'] == kind]


def podman_secret(data):
    """What podman 4.3 reads a secretKeyRef's keys from: a JSON object of
    each key's value in base64 (not a Secret manifest)."""
    return json.dumps({key: base64.b64encode(value.encode()).decode()
                       for key, value in data.items()})


def for_podman(objects, name, images, port, secret):
    """deploy/kubernetes's objects as podman 4.3 plays them, as (Redis's,
    the app's). docs/kubernetes.rst says what podman does with each field,
    and so why each change:

    - every name podman makes (pods, volumes) starts with ``name('')``,
      so that the tests find and remove them;
    - the StatefulSet's pod is played as a Pod, its claim as a
      PersistentVolumeClaim (podman plays no StatefulSet);
    - one replica of the app, published on 127.0.0.1:``port`` (a
      hostPort; podman has no Service);
    - the images the tests built, never pulled;
    - the secret from the podman secret ``secret`` in the environment
      (secretKeyRef), not as files;
    - the liveness probe is the image's own check, not an HTTP GET.
    """
    objects = copy.deepcopy(objects)
    redis_set, = of_kind(objects, 'StatefulSet')
    deployment, = of_kind(objects, 'Deployment')
    location, = of_kind(objects, 'ConfigMap')
    redis_pod = {
        'apiVersion': 'v1', 'kind': 'Pod',
        'metadata': {'name': name(redis_set['metadata']['name']),
                     'labels': redis_set['spec']['template']['metadata'][
                         'labels']},
        'spec': redis_set['spec']['template']['spec'],
    }
    claims = []
    for template in redis_set['spec']['volumeClaimTemplates']:
        # the claim a StatefulSet makes for its first pod
        claim = name('%s-%s-0' % (template['metadata']['name'],
                                  redis_set['metadata']['name']))
        claims.append({'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim',
                       'metadata': {'name': claim},
                       'spec': template['spec']})
        redis_pod['spec'].setdefault('volumes', []).append(
            {'name': template['metadata']['name'],
             'persistentVolumeClaim': {'claimName': claim}})
    use_images(redis_pod['spec'], images['redis'])
    location['data']['TUTORIAL_REDIS_URL'] = location['data'][
        'TUTORIAL_REDIS_URL'].replace(redis_set['metadata']['name'],
                                      redis_pod['metadata']['name'])

    deployment['metadata']['name'] = name(deployment['metadata']['name'])
    deployment['spec']['replicas'] = 1
    spec = deployment['spec']['template']['spec']
    use_images(spec, images['tutorial'])
    container, = spec['containers']
    container['ports'][0].update(hostPort=port, hostIP='127.0.0.1')
    secrets = [v for v in spec['volumes'] if 'secret' in v]
    spec['volumes'] = [v for v in spec['volumes'] if v not in secrets]
    for volume in spec['volumes']:
        # (podman makes an emptyDir a named volume, named as in the pod)
        for mount in container['volumeMounts']:
            if mount['name'] == volume['name']:
                mount['name'] = name(volume['name'])
        volume['name'] = name(volume['name'])
    secret_mounts = {m['mountPath']: m for m in container['volumeMounts']
                     if m['name'] in {v['name'] for v in secrets}}
    env = []
    for variable in container['env']:
        folder, _, key = variable.get('value', '').rpartition('/')
        if variable['name'].endswith('_FILE') and folder in secret_mounts:
            variable = {'name': variable['name'][:-len('_FILE')],
                        'valueFrom': {'secretKeyRef': {'name': secret,
                                                       'key': key}}}
        env.append(variable)
    container['env'] = env
    container['volumeMounts'] = [m for m in container['volumeMounts']
                                 if m['mountPath'] not in secret_mounts]
    liveness = container['livenessProbe']
    liveness.pop('httpGet')
    liveness['exec'] = {'command': IMAGE_CHECK}
    others = [o for o in objects
              if o['kind'] not in ('StatefulSet', 'Deployment', 'ConfigMap')]
    return claims + [redis_pod], [location, deployment] + others


def use_images(spec, image):
    for container in spec['containers']:
        container.update(image=image, imagePullPolicy='Never')


def dump(objects, path):
    with open(path, 'w') as f:
        yaml.safe_dump_all(objects, f, sort_keys=False)
    return path


@contextlib.contextmanager
def played(podman, folder, port, secret_data):
    """deploy/kubernetes played by ``podman``: Redis's pod, then the
    app's, on a network of their own, the app published on ``port`` and
    the secret's keys from ``secret_data``; taken down at the end."""
    network, secret = podman.name('kube'), podman.name('session')
    redis, app = for_podman(build(), podman.name, podman.images, port,
                            secret)
    kube = Kube(podman, network, port,
                dump(redis, os.path.join(folder, 'redis.yaml')),
                dump(app, os.path.join(folder, 'app.yaml')))
    try:
        podman('network', 'create', network)
        podman('secret', 'create', secret, '-',
               input=podman_secret(secret_data))
        kube.play(kube.redis)
        kube.play(kube.app)
        kube.wait_until_ready()
        yield kube
    finally:
        for path in (kube.app, kube.redis):
            podman('kube', 'down', path, check=False)
        podman('secret', 'rm', secret, check=False)


class Kube:
    """What podman played: the app's and Redis's YAML, on ``network``,
    the app published on ``port``."""

    def __init__(self, podman, network, port, redis, app):
        self.podman, self.network, self.port = podman, network, port
        self.redis, self.app = redis, app
        self.container = podman.name('tutorial-pod-0-app')

    def play(self, path, *options):
        # podman says on stderr that it has no systemd for the health
        # check's timer, and plays on
        self.podman('kube', 'play', '--network', self.network, *options,
                    path, timeout=300)

    def wait_until_ready(self):
        """Until /readyz answers 200: the app serves, and reaches Redis."""
        self.podman.wait_for_page(self.port, '/readyz', self.container, 90)

    def health(self):
        """podman's health check of the app, run now: its exit status."""
        return self.podman('healthcheck', 'run', self.container,
                           check=False, timeout=60).returncode

    def processes(self):
        """The app container's processes, by their host pids."""
        return [int(pid) for pid in self.podman(
            'top', self.container, 'hpid').stdout.split()[1:]]
