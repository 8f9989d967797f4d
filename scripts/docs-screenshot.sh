#!/usr/bin/env bash
# Takes PNG screenshots of the documentation page with headless Chromium, at a desktop and
# a phone width, for people to look at.
#
# Usage: scripts/docs-screenshot.sh [URL] [OUTPUT_DIR]
#   URL         a running server's page (default: start one with --demo on a temporary
#               database and a free port, and stop it afterwards)
#   OUTPUT_DIR  where to write docs-desktop.png and docs-phone.png (default: target/screenshots)
# Needs `chromium` (Debian: apt-get install chromium). Basic credentials may be given in
# the URL's user part (http://demo:guest@127.0.0.1:8080/) to see a signed-in view.
set -euo pipefail
cd "$(dirname "$0")/.."

url=${1:-}
out=${2:-target/screenshots}
mkdir -p "$out"
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v chromium >/dev/null; then
  echo "chromium is not installed (apt-get install chromium)" >&2
  exit 1
fi

if [ -z "$url" ]; then
  cargo build --quiet
  ./target/debug/groupware serve --demo --listen 127.0.0.1:0 \
    --database "sqlite://$work/gw.db" >"$work/stdout" 2>"$work/stderr" &
  server_pid=$!
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^groupware listening on //p' "$work/stdout")
    [ -n "$url" ] && break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "the server did not start:" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  url="$url/"
fi

shoot() {
  local size=$1 file=$2
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/profile-$file" --window-size="$size" \
    --screenshot="$out/$file" "$url" 2>"$work/chromium.log" || {
      cat "$work/chromium.log" >&2
      exit 1
    }
  echo "wrote $out/$file"
}
shoot 1280,2400 docs-desktop.png
shoot 390,2400 docs-phone.png
