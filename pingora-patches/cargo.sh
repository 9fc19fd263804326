#!/usr/bin/env bash
# Cargo on the patched Pingora: `pingora-patches/cargo.sh build --release` is `cargo build
# --release` with the [patch.crates-io] config that apply.sh writes. Cargo records those path
# overrides in Cargo.lock; the committed lock (crates.io sources and checksums, which cargo deny
# checks) is put back afterwards, so add dependencies with plain cargo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=$("$root/pingora-patches/apply.sh")
saved=$(mktemp)
cp "$root/Cargo.lock" "$saved"
trap 'cp "$saved" "$root/Cargo.lock"; rm -f "$saved"' EXIT
"${CARGO:-cargo}" --config "$config" "$@"
