#!/usr/bin/env bash
# Re-fetches the Chart.js build vendored into the dashboard (stream/dashboard/static/vendor/) and checks it.
#
#   deploy/vendor-chartjs.sh           fetch the pinned tarball, verify it, (re)write the vendored files
#   deploy/vendor-chartjs.sh --check   fetch and verify, then only compare with the vendored files (exit 1 if not equal)
#
# The dashboard must work offline and under a strict Content-Security-Policy, so it never loads Chart.js from
# a CDN: the UMD build is committed. This script makes that file reproducible: it downloads the exact npm
# tarball of the pinned version, checks the tarball's sha256 and the extracted files' sha256, and copies them
# unchanged (the file keeps its banner and licence header; nothing is re-minified).
#
# To move to another version: set VERSION, run with CHARTJS_TRUST_NEW=1 once to print the new hashes, review
# the release notes, then pin the printed hashes below.
set -euo pipefail

VERSION="4.5.1"
TARBALL_URL="https://registry.npmjs.org/chart.js/-/chart.js-${VERSION}.tgz"
# sha256 of the npm tarball (its sha512 integrity in the registry is
# GIjfiT9dbmHRiYi6Nl2yFCq7kkwdkp1W/lp2J99rX0yo9tgJGn3lKQATztIjb5tVtevcBtIdICNWqlq5+E8/Pw==).
TARBALL_SHA256="f540d98468457ac7a0aabb32006dfb066297e096c5ea063a5d80aa973d1c337a"
UMD_SHA256="48444a82d4edcb5bec0f1965faacdde18d9c17db3063d042abada2f705c9f54a"
LICENSE_SHA256="41a84aa2caba645f966a18d9c2056b73e6d3a81d80bc0046bc0011a2634d4cce"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vendor="$(cd "$here/.." && pwd)/stream/dashboard/static/vendor"
mode="${1:-write}"

die() { echo "vendor-chartjs: $*" >&2; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

verify() {  # file, expected hash, label
  local got
  got="$(sha256_of "$1")"
  if [[ "${CHARTJS_TRUST_NEW:-0}" == "1" ]]; then
    echo "vendor-chartjs: $3 sha256 $got" >&2
  elif [[ "$got" != "$2" ]]; then
    die "$3: sha256 $got, expected $2 (a changed upstream file is never accepted silently)"
  fi
}

[[ "$mode" == "write" || "$mode" == "--check" ]] || die "usage: $0 [--check]"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The registry's tarball either way; the hash check below is what makes the two routes equivalent.
if command -v curl >/dev/null; then
  curl -fsSL --retry 3 -o "$work/chart.tgz" "$TARBALL_URL" || die "could not download $TARBALL_URL"
elif command -v npm >/dev/null; then
  (cd "$work" && npm pack --silent "chart.js@${VERSION}" >/dev/null) || die "npm pack chart.js@${VERSION} failed"
  mv "$work/chart.js-${VERSION}.tgz" "$work/chart.tgz"
else
  die "neither curl nor npm found"
fi
verify "$work/chart.tgz" "$TARBALL_SHA256" "chart.js-${VERSION}.tgz"
tar -xzf "$work/chart.tgz" -C "$work" package/dist/chart.umd.min.js package/LICENSE.md
verify "$work/package/dist/chart.umd.min.js" "$UMD_SHA256" "dist/chart.umd.min.js"
verify "$work/package/LICENSE.md" "$LICENSE_SHA256" "LICENSE.md"

if [[ "$mode" == "--check" ]]; then
  cmp -s "$work/package/dist/chart.umd.min.js" "$vendor/chart.umd.min.js" \
    || die "$vendor/chart.umd.min.js differs from chart.js ${VERSION}: run $0 to restore it"
  cmp -s "$work/package/LICENSE.md" "$vendor/LICENSE.chartjs.md" \
    || die "$vendor/LICENSE.chartjs.md differs from chart.js ${VERSION}'s LICENSE.md"
  echo "vendor-chartjs: vendored Chart.js ${VERSION} matches the registry tarball"
  exit 0
fi

mkdir -p "$vendor"
install -m 0644 "$work/package/dist/chart.umd.min.js" "$vendor/chart.umd.min.js"
install -m 0644 "$work/package/LICENSE.md" "$vendor/LICENSE.chartjs.md"
echo "vendor-chartjs: wrote Chart.js ${VERSION} to $vendor"
