#!/bin/sh
# Browser end-to-end tests: installs what is missing (Debian's chromium, the npm packages
# pinned in tests/package-lock.json), then runs them with Node's test runner.
# Say which server to test with SESSIO_BIN, SESSIO_NODE_DIR or SESSIO_URL (see server.mjs).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tests=$(dirname "$here")

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: run 'apt-get install chromium' as root" >&2
    exit 1
  fi
fi
if [ ! -d "$tests/node_modules/playwright-core" ] || [ ! -d "$tests/node_modules/socket.io-client" ] || [ ! -d "$tests/node_modules/@socket.io/admin-ui" ]; then
  (cd "$tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
cd "$tests"
exec node --test --test-concurrency=1 "$@" browser/
