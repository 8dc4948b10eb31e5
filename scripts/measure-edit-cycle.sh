#!/usr/bin/env bash
# The edit–test cycle of docs/benchmarks.md: in a checkout, build the origin's tests once
# (untimed), touch one origin file, then time the rebuild and the whole origin test run.
#
#   scripts/measure-edit-cycle.sh <checkout> <file to touch, relative to it>
set -euo pipefail
dir=$1
file=$2
cd "$dir"
cargo test -p usso-origin --all-features --no-run > /dev/null 2>&1
touch "$file"
start=$(date +%s.%N)
cargo test -p usso-origin --all-features --no-run > /dev/null 2>&1
built=$(date +%s.%N)
cargo test -p usso-origin --all-features > /dev/null 2>&1
end=$(date +%s.%N)
echo "build $(echo "$built - $start" | bc) s, build and run $(echo "$end - $start" | bc) s"
