"""The house, room by room: the top of tutorial/ is the printed step,
each addition lives in the folder of its concern, and the folders import
in one direction."""
import ast
import glob
import os
import re
import shlex
import subprocess

import pytest

from tests.support.project import PACKAGES, PROJECT

#: What `ls tutorial` shows: the step's files, then the rooms.
STEP = {'__init__.py', 'views.py', 'home.pt', 'tests.py'}
#: The rooms, in the order they may import each other: a room imports
#: from the rooms before it, never from one after it. The step's own
#: files (tutorial/*.py) may import any of them.
ROOMS = ['config', 'pages', 'security', 'operations', 'sessions',
         'server']


def python_files(*parts):
    return glob.glob(os.path.join(PROJECT, *parts, '**', '*.py'),
                     recursive=True)


def imported_modules(path, package):
    """The tutorial modules ``path`` imports, as dotted names."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.'))
                                          - node.level + 1]
                found.append('.'.join(base + ([node.module]
                                              if node.module else [])))
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name and name.split('.')[0] in (
        'tutorial', 'tests', 'bench')]


def module_of(path):
    relative = os.path.relpath(path, PROJECT)[:-3].split(os.sep)
    if relative[-1] == '__init__':
        return '.'.join(relative[:-1]), '.'.join(relative[:-1])
    return '.'.join(relative), '.'.join(relative[:-1])


def test_the_top_of_tutorial_is_the_step_and_the_rooms():
    entries = {name for name in os.listdir(os.path.join(PROJECT, 'tutorial'))
               if name != '__pycache__'}
    assert entries == STEP | set(ROOMS)


def test_the_step_names_each_room_it_includes_once():
    with open(os.path.join(PROJECT, 'tutorial', '__init__.py')) as f:
        main = f.read()
    included = [room for room in ROOMS
                if "config.include('.%s')" % room in main]
    # config is what the rooms stand on, and server runs the app: neither
    # is included; the others are, one line each
    assert included == ['pages', 'security', 'operations', 'sessions']


@pytest.mark.parametrize('room', ROOMS)
def test_a_room_imports_only_from_the_rooms_before_it(room):
    allowed = {'tutorial.' + r for r in ROOMS[:ROOMS.index(room) + 1]}
    wrong = []
    for path in python_files('tutorial', room):
        module, package = module_of(path)
        for name in imported_modules(path, package):
            parts = name.split('.')
            if parts[0] != 'tutorial' or len(parts) < 2:
                wrong.append('%s imports %s' % (module, name))
            elif '.'.join(parts[:2]) not in allowed:
                wrong.append('%s imports %s' % (module, name))
    assert wrong == []


def test_no_test_module_is_another_ones_library():
    wrong = []
    for path in python_files('tests') + python_files('bench'):
        module, package = module_of(path)
        for name in imported_modules(path, package):
            last = name.split('.')[-1]
            if last.startswith('test_') or last == 'conftest' \
                    or name == 'tutorial.tests':
                wrong.append('%s imports %s' % (module, name))
    assert wrong == []


def test_no_file_of_the_tests_is_longer_than_400_lines():
    lengths = {}
    for path in python_files('tests'):
        with open(path) as f:
            lengths[os.path.relpath(path, PROJECT)] = len(f.readlines())
    assert {path: n for path, n in lengths.items() if n > 400} == {}


def test_no_archive_or_binary_is_tracked_but_the_icon():
    git = subprocess.run(['git', 'ls-files', '-z'], cwd=PROJECT,
                         capture_output=True)
    if git.returncode != 0:
        pytest.skip('not a git checkout: %s' % git.stderr.decode().strip())
    binary = []
    for name in git.stdout.decode().split('\0'):
        if not name or not os.path.exists(os.path.join(PROJECT, name)):
            continue
        with open(os.path.join(PROJECT, name), 'rb') as f:
            if b'\0' in f.read(8192):
                binary.append(name)
    assert binary == ['tutorial/pages/static/favicon.ico']


def readme_apt_packages():
    """The packages README.txt's apt line installs (and .ci/run with it)."""
    with open(os.path.join(PROJECT, 'README.txt')) as f:
        lines = [shlex.split(line.split('apt-get install', 1)[1]
                             .split('&&')[0])
                 for line in f if line.strip().startswith(
                     '$ sudo apt-get install')]
    assert len(lines) == 1, lines
    return set(lines[0])


def test_readme_apt_line_brings_every_program_the_suites_run():
    # each program a suite runs is found through PACKAGES (require), and
    # each of their packages is on the one line CI installs
    assert set(PACKAGES.values()) <= readme_apt_packages()
    found = subprocess.run(
        ['git', 'grep', '-h', '-o', r"require('[a-z-]*')", '--', 'tests'],
        cwd=PROJECT, capture_output=True, text=True, check=True).stdout
    programs = {call[len("require('"):-2] for call in found.split()}
    assert programs and programs <= set(PACKAGES), programs - set(PACKAGES)


def test_ci_installs_the_readme_apt_line_and_runs_its_test_command():
    # .ci/run reads both from README.txt; run here, its readers give them
    read = subprocess.run(
        ['bash', '-c', '. .ci/lib.sh && readme_packages && '
         'readme_test_command'], cwd=PROJECT, capture_output=True,
        text=True, check=True).stdout.split('\n')
    assert set(read[:-2]) == readme_apt_packages()
    assert 'nosetests tutorial' in read[-2]
    with open(os.path.join(PROJECT, '.ci', 'run')) as f:
        ci = f.read()
    assert '< <(readme_packages)' in ci and '$(readme_test_command)' in ci


def installed_or_provided():
    """The Debian packages dpkg has installed, and those they provide."""
    listing = subprocess.run(
        ['dpkg-query', '-W', '-f', '${Status}|${Package}|${Provides}\\n'],
        capture_output=True, text=True, check=True).stdout
    names = set()
    for line in listing.splitlines():
        status, package, provides = line.split('|')
        if status == 'install ok installed':
            names.add(package)
            names.update(p.split()[0] for p in provides.split(',') if p)
    return names


def test_ci_sees_the_apt_line_as_dpkg_does():
    # under .ci/run's own shell options (pipefail); a package is there
    # when installed or provided (nodejs provides npm), else CI's apt-get
    # would try it and fail on the conflict
    if not os.path.exists('/usr/bin/dpkg-query'):
        pytest.skip('dpkg-query: not a Debian machine')
    packages = sorted(readme_apt_packages())
    found = subprocess.run(
        ['bash', '-c', 'set -euo pipefail; . .ci/lib.sh; for p; do '
         'if package_present "$p"; then echo "$p"; fi; done', '-']
        + packages, cwd=PROJECT, capture_output=True, text=True,
        check=True).stdout.split()
    assert set(found) == set(packages) & installed_or_provided()


def tracked_files():
    return subprocess.run(['git', 'ls-files', '-z'], cwd=PROJECT,
                          capture_output=True, text=True,
                          check=True).stdout.strip('\0').split('\0')


#: A path the prose names under one of the project's folders.
NAMED_PATH = re.compile(
    r'(?<![\w./-])((?:tutorial|tests|bench|deploy)/[\w./-]*\w)')
#: A file named alone, in the docs' prose.
NAMED_FILE = re.compile(r'(?<![\w./-])([\w-]+\.(?:py|pt|ini|rst|txt))\b')


def test_every_path_the_prose_names_is_in_the_tree():
    # comments, docstrings, README.txt, docs/ and bench/: a name that
    # moved or went is a reader sent nowhere (what the benchmark writes,
    # ignored by git, counts as there)
    files = tracked_files()
    there = set(files) | {os.path.dirname(f) for f in files} | {
        '/'.join(f.split('/')[:n]) for f in files
        for n in range(1, f.count('/'))}
    basenames = {os.path.basename(f) for f in files}
    missing = []
    for name in files:
        if not name.endswith(('.py', '.rst', '.txt', '.ini', '.toml',
                              '.json', '.yaml', '.pt', 'Dockerfile',
                              'render')) or name.startswith('bench/figures'):
            continue
        with open(os.path.join(PROJECT, name), encoding='utf-8') as f:
            text = f.read()
        for path in NAMED_PATH.findall(text):
            path = path.rstrip('.')
            if path not in there and not ignored(path):
                missing.append('%s: %s' % (name, path))
        if name.endswith(('.rst', '.txt')):
            missing += ['%s: %s' % (name, file)
                        for file in NAMED_FILE.findall(text)
                        if file not in basenames]
    assert missing == []


def ignored(path):
    """Whether git ignores ``path``, as a file or as a folder."""
    return any(subprocess.run(['git', 'check-ignore', '-q', name],
                              cwd=PROJECT).returncode == 0
               for name in (path, path + '/'))
