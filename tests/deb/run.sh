#!/usr/bin/env bash
# Tests the Debian packages as root on a machine where systemd does not run (CI's):
# builds them (contrib/build-debs; DEBS_PREBUILT=1 packs the board binaries as built, as
# tests/run does after its board stage), checks each with lintian
# (no errors), then with the amd64 package:
#   - dpkg -i puts the binary, unit, sysusers file, man page and conffile in place, makes
#     the system user and /var/lib/sessio (sessio, 0700), enables the unit;
#   - `sessio --version` answers;
#   - the unit's ExecStart line, run by hand as its User= with SESSIO_LISTEN moving it to
#     a loopback port, reads /etc/sessio/sessio.toml and serves the page, and passes the
#     board smoke test (tests/board/smoke.mjs, register, log in, Socket.IO);
#   - `sessio user add NAME` as root, naming neither data directory nor user, adds a user
#     the running server logs in; every file in /var/lib/sessio stays the user's;
#   - every commented default of the conffile, uncommented, is a valid setting;
#   - installing again (the upgrade path) keeps a changed conffile;
#   - dpkg -r keeps the conffile and the data; dpkg -P removes both, and nothing else of
#     the package is left on the machine but its system user, which this test then deletes;
# and the arm64 package's binary passes the smoke test under qemu-user.
#
#   tests/deb/run.sh                # all four packages (CI)
#   tests/deb/run.sh amd64 arm64    # only these built and linted (both are needed)
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${CARGO_TARGET_DIR:-target}/debs
[ "$(id -u)" -eq 0 ] || { echo "deb test: needs root (dpkg -i)" >&2; exit 2; }
if dpkg-query -W -f='${Status}' sessio 2>/dev/null | grep -q installed; then
    echo "deb test: a sessio package is installed already; this test installs and purges its own" >&2
    exit 2
fi
had_user=0
getent passwd sessio >/dev/null && had_user=1

step() { printf 'deb test: [%3ss] %s\n' "$SECONDS" "$*" >&2; }
fail() { printf 'deb test: FAILED: %s\n' "$*" >&2; exit 1; }

step "building the packages"
rm -f "$OUT"/sessio_*.deb
contrib/build-debs "$@"
ls "$OUT"/sessio_*.deb >/dev/null

step "lintian"
# Errors fail; the warnings and notes left are explained in the README.
lintian --fail-on error --info "$OUT"/sessio_*.deb || fail "lintian reports errors"

amd64=$(ls "$OUT"/sessio_*_amd64.deb)
arm64=$(ls "$OUT"/sessio_*_arm64.deb)
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    dpkg -P sessio >/dev/null 2>&1 || true
    [ "$had_user" = 1 ] || userdel sessio 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# What is on the machine before, to compare after the purge.
snapshot() {
    find /etc /usr /var/lib /lib -xdev 2>/dev/null \
        | grep -Ev '^/var/lib/(dpkg|apt|ucf)(/|$)|^/etc/(passwd|group|shadow|gshadow)-?$|^/etc/ld.so.cache$' \
        | sort
}
snapshot >"$work/before"

step "arm64: the package's binary under qemu-user"
[ "$(dpkg-deb -f "$arm64" Architecture)" = arm64 ] || fail "$arm64 is not arm64"
dpkg-deb -x "$arm64" "$work/arm64"
file -b "$work/arm64/usr/bin/sessio" | grep -q 'ARM aarch64' || fail "the arm64 binary is not aarch64"
node tests/board/smoke.mjs "$work/arm64/usr/bin/sessio"

step "amd64: dpkg -i"
dpkg -i "$amd64"
version=$(dpkg-deb -f "$amd64" Version)

step "files in place"
[ "$(stat -c %a /usr/bin/sessio)" = 755 ] || fail "/usr/bin/sessio"
unit=$(dpkg -L sessio | grep '/systemd/system/sessio.service$') || fail "no unit in the package"
for f in /usr/lib/sysusers.d/sessio.conf /usr/share/man/man1/sessio.1.gz /etc/sessio/sessio.toml; do
    [ -f "$f" ] || fail "$f missing"
done
dpkg-query -W -f='${Conffiles}\n' sessio | grep -q '^ /etc/sessio/sessio.toml ' \
    || fail "/etc/sessio/sessio.toml is not a conffile"
cmp /etc/sessio/sessio.toml contrib/sessio.toml || fail "the conffile is not contrib/sessio.toml"
getent passwd sessio | grep -q ':/var/lib/sessio:/usr/sbin/nologin$' \
    || fail "user sessio: $(getent passwd sessio)"
[ "$(stat -c '%U:%G %a' /var/lib/sessio)" = "sessio:sessio 700" ] \
    || fail "/var/lib/sessio is $(stat -c '%U:%G %a' /var/lib/sessio)"
[ -L /etc/systemd/system/multi-user.target.wants/sessio.service ] || fail "the unit is not enabled"
man -l /usr/share/man/man1/sessio.1.gz 2>&1 >/dev/null | grep . && fail "man page warnings"
# systemd reads the unit without a complaint (offline: no systemd needs to run).
out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ] || fail "systemd-analyze verify: $out"

step "sessio --version"
[ "$(sessio --version)" = "sessio ${version%-*}" ] || fail "sessio --version: $(sessio --version)"

step "the unit's ExecStart, by hand, as its user"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
[ "$exec_start" = "/usr/bin/sessio serve --config /etc/sessio/sessio.toml" ] || fail "ExecStart=$exec_start"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
# shellcheck disable=SC2086 # the ExecStart line's words
(cd /var/lib/sessio && exec setpriv --reuid "$user" --regid "$user" --clear-groups \
    env SESSIO_LISTEN="127.0.0.1:$port" $exec_start) >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    curl -fsS -o "$work/page" "$base/" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || fail "the server exited: $(cat "$work/server.log")"
    sleep 0.1
done
grep -qi '<html' "$work/page" || fail "no page at $base/"
grep -q "/var/lib/sessio" "$work/server.log" || fail "the server did not use /var/lib/sessio: $(cat "$work/server.log")"
SMOKE_URL=$base node tests/board/smoke.mjs

step "sessio user add, as an administrator types it"
printf 'a-long-password\n' | sessio user add alice
sessio user list | cut -f2 | grep -qx 'alice' || fail "user list: $(sessio user list)"
status=$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    -d '{"username":"alice","password":"a-long-password"}' "$base/api/login")
[ "$status" = 200 ] || fail "alice cannot log in to the running server ($status)"
others=$(find /var/lib/sessio ! -user sessio)
[ -z "$others" ] || fail "files in /var/lib/sessio not the service's: $others"
kill "$server" && wait "$server" || true
server=

step "every commented default is a valid setting"
sed -E 's/^#([a-z0-9_]+ = )/\1/' /etc/sessio/sessio.toml >"$work/all.toml"
grep -c '^[a-z0-9_]* = ' "$work/all.toml" | grep -qv '^[0-2]$' || fail "no defaults uncommented"
sessio user list --config "$work/all.toml" --data-dir "$work/data" >/dev/null

step "the upgrade path keeps a changed conffile"
echo '# changed by the administrator' >>/etc/sessio/sessio.toml
dpkg -i "$amd64"
tail -1 /etc/sessio/sessio.toml | grep -q 'changed by the administrator' || fail "the conffile was replaced"

step "dpkg -r keeps the conffile and the data"
dpkg -r sessio
[ ! -e /usr/bin/sessio ] && [ ! -e "$unit" ] || fail "dpkg -r left the binary or the unit"
[ -f /etc/sessio/sessio.toml ] || fail "dpkg -r removed the conffile"
[ -n "$(ls -A /var/lib/sessio)" ] || fail "dpkg -r removed the data"

step "dpkg -P removes them, and leaves only the system user"
dpkg -P sessio
[ ! -e /etc/sessio ] && [ ! -e /var/lib/sessio ] || fail "dpkg -P left /etc/sessio or /var/lib/sessio"
getent passwd sessio >/dev/null || fail "the system user went (Debian keeps them)"
snapshot >"$work/after"
diff "$work/before" "$work/after" || fail "dpkg -P left these behind (>) or took these (<)"

step "passed"
