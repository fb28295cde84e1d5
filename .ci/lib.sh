# What .ci/run and .ci/other-pythons share; sourced, not run.

# README.txt's test command: the one line that runs `nosetests tutorial`,
# so that CI runs exactly what the README tells a reader to.
readme_test_command() {
    local command
    command=$(sed -n 's/^ *\$ \(.*nosetests tutorial.*\)$/\1/p' README.txt)
    if [ -z "$command" ] || [ "$(printf '%s\n' "$command" | wc -l)" != 1 ]
    then
        echo "README.txt must have one test command naming" \
             "'nosetests tutorial'" >&2
        return 1
    fi
    printf '%s\n' "$command"
}

# How many tests the test command's log says ran: nosetests', then
# pytest's closing line.
test_counts() {
    local log=$1 nose pytest
    nose=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$log" | tail -1)
    pytest=$(grep -E '^=+ .*[0-9]+ (passed|failed).* in [0-9.]+s' "$log" \
             | tail -1 | sed 's/^=* *//; s/ *=*$//')
    printf 'nosetests ran %s tests; pytest: %s' "${nose:-no}" \
        "${pytest:-no closing line}"
}

# axe-core for the accessibility audit, at the version package.json pins,
# into DIR/node_modules (npm is on these machines).
install_axe_core() {
    local dir=$1
    echo "+ npm install (in $dir): $(grep -o '"axe-core": "[^"]*"' \
        "$dir/package.json")"
    npm install --prefix "$dir" --no-package-lock --no-audit --no-fund \
        --loglevel=error >/dev/null
}

# The Debian packages README.txt's apt line names, one a line: the one
# list of what the tests run. A word in quotes there is an apt pattern
# (?name(...)), read as the shell reads it, unglobbed.
readme_packages() {
    local line
    line=$(sed -n 's/^ *\$ sudo apt-get install \([^&]*\).*$/\1/p' README.txt)
    if [ -z "$line" ] || [ "$(printf '%s\n' "$line" | wc -l)" != 1 ]; then
        echo "README.txt must have one 'sudo apt-get install' line" >&2
        return 1
    fi
    xargs -n 1 printf '%s\n' <<< "$line"
}

# Whether Debian package NAME is installed here, or provided by one that
# is (NodeSource's nodejs provides npm, and conflicts with Debian's); an
# apt pattern never is, and apt-get installs what it matches, if need be.
# The list is read whole before grep looks at it: in a pipe, `grep -q`
# stopping at the first match would kill dpkg-query, and under pipefail
# that would read as "not present".
package_present() {
    local name=$1 installed
    [[ $name == \?* ]] && return 1
    [ "$(dpkg-query -W -f='${Status}' "$name" 2>/dev/null)" \
        = 'install ok installed' ] && return 0
    installed=$(dpkg-query -W -f='${Status} ${Provides}\n' 2>/dev/null \
                | grep '^install ok installed ' || true)
    grep -Eq "(^| |,)$name( \\(|,|$)" <<< "$installed"
}
