#!/usr/bin/env bash
# Makes sure a headless Chromium is present for the browser tests (tests/browser/) and prints its path.
#
#   deploy/browser.sh            print the path of `chromium`, installing Debian's package first if missing
#
# The tests drive Debian's chromium through Python playwright; playwright's own browser downloads are never
# used, so the browser comes from the distribution's signed archive like every other system package.
# Installing needs root (CI and the development machines run as root); when chromium is already there the
# script only prints its path.
set -euo pipefail

die() { echo "browser: $*" >&2; exit 1; }

find_chromium() { command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null || true; }

path="$(find_chromium)"
if [[ -z "$path" ]]; then
  command -v apt-get >/dev/null || die "chromium not found and no apt-get here: install Chromium and put it on PATH"
  [[ "$(id -u)" == "0" ]] || die "chromium not found: run as root to install it (apt-get install chromium)"
  echo "browser: installing Debian's chromium (once)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # apt's progress goes to stderr so that stdout carries only the path, for callers that capture it.
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium >&2
  path="$(find_chromium)"
  [[ -n "$path" ]] || die "apt-get installed chromium but it is not on PATH"
fi
echo "$path"
