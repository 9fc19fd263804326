#!/usr/bin/env bash
# Builds the patched Pingora: extracts the pristine crates that the series touches from Cargo's
# registry (the versions Cargo.lock pins), applies the numbered patches of this folder in order,
# and writes a Cargo config whose [patch.crates-io] entries point at the result. Prints that
# config's path, for `cargo build --config "$(pingora-patches/apply.sh)"`.
# Usage: pingora-patches/apply.sh [OUT_DIR]   (default: target/pingora-patched)
# Redone only when a patch, this script or a pinned version changes, so that an unchanged series
# does not make Cargo rebuild Pingora. A patch that no longer applies stops here, naming it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/target/pingora-patched}
registry=${CARGO_HOME:-$HOME/.cargo}/registry/cache
shopt -s nullglob
patches=("$here"/[0-9][0-9][0-9][0-9]-*.patch)

# The crates the series changes: the first path component of every file a patch touches.
crates=$(sed -n 's|^+++ b/\([^/]*\)/.*|\1|p' "${patches[@]}" /dev/null | sort -u)
pinned() { # the version of crate $1 in Cargo.lock
    awk -v n="name = \"$1\"" '$0 == n { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock"
}
versions=$(for c in $crates; do echo "$c $(pinned "$c")"; done)
# The diffs only (from each header's `---` line on): editing a rationale rebuilds nothing.
stamp=$( (for p in "${patches[@]}"; do sed -n '/^---$/,$p' "$p"; done; cat "$0") | sha256sum | cut -c1-16)
stamp=$stamp-$(echo "$versions" | sha256sum | cut -c1-16)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
    echo "$out/config.toml"
    exit 0
fi

rm -rf "$out"
mkdir -p "$out"
{
    echo "# Written by pingora-patches/apply.sh: Pingora with the patch series of pingora-patches/."
    echo "[patch.crates-io]"
} >"$out/config.toml"
while read -r crate version; do
    [ -n "$crate" ] || continue
    [ -n "$version" ] || { echo "pingora-patches: $crate is not in Cargo.lock" >&2; exit 1; }
    archive=$(ls "$registry"/*/"$crate-$version.crate" 2>/dev/null | head -1 || true)
    if [ -z "$archive" ]; then
        (cd "$root" && cargo fetch --quiet) >&2
        archive=$(ls "$registry"/*/"$crate-$version.crate" | head -1)
    fi
    tar -xzf "$archive" -C "$out"
    mv "$out/$crate-$version" "$out/$crate"
    echo "$crate = { path = \"$out/$crate\" }" >>"$out/config.toml"
done <<<"$versions"

for p in "${patches[@]}"; do
    if ! (cd "$out" && patch -p1 --batch --forward --quiet --no-backup-if-mismatch <"$p" >&2); then
        echo "pingora-patches: $(basename "$p") does not apply to $(echo $versions)" >&2
        rm -rf "$out"
        exit 1
    fi
done
echo "$stamp" >"$out/stamp"
echo "$out/config.toml"
