#!/usr/bin/env bash
# Builds every board binary (contrib/build-boards) and runs the end-to-end smoke test
# (tests/board/smoke.mjs) on each under qemu-user, on a loopback port.
#
#   npm ci --prefix tests          # once: socket.io-client for smoke.mjs
#   tests/board/smoke.sh           # all boards
#   tests/board/smoke.sh aarch64-unknown-linux-musl   # only some
#
# The ARMv6 binary runs on an emulated ARM1176 (QEMU_CPU=arm1176), so an ARMv7-only
# instruction fails the test; the armv7 glibc binary uses Debian's armhf libraries
# (QEMU_LD_PREFIX). Ends with a line "smoke: N passed, N failed" counting binaries.
set -uo pipefail

cd "$(dirname "$0")/../.."
contrib/build-boards "$@" || exit 1

OUT=${CARGO_TARGET_DIR:-target}/boards
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf arm-unknown-linux-gnueabi)

passed=0
failed=0
for t in "${targets[@]}"; do
    bin=$OUT/sessio-$t
    if [ ! -x "$bin" ]; then
        echo "smoke: $t: no binary (skipped by build-boards)" >&2
        continue
    fi
    env=()
    case $t in
        arm-unknown-linux-gnueabi) env=(QEMU_CPU=arm1176) ;;
        armv7-unknown-linux-gnueabihf) env=(QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf) ;;
        arm-unknown-linux-gnueabihf) env=(QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf) ;;
    esac
    echo "==> smoke test of $bin ${env[*]}" >&2
    if env "${env[@]}" node tests/board/smoke.mjs "$bin"; then
        passed=$((passed + 1))
    else
        echo "smoke: $t FAILED" >&2
        failed=$((failed + 1))
    fi
done

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
