#!/bin/sh
# keysweep as a plain CI gate (any CI system, or a cron job).
#   usage: keysweep-gate.sh [BASE_COMMIT]
# Scans the working tree, then the commits after BASE_COMMIT (all history without it).
# The project's .keysweep.toml and its baseline are picked up automatically.
# Exit status: 0 clean, 1 new findings, 2 error, 3 a live AWS key (with --verify).
set -u
base="${1:-}"

tree=0
keysweep scan . || tree=$?

history=0
if [ -n "$base" ]; then
  keysweep history . --since="$base" || history=$?
elif [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  # all history of a shallow clone is part of it: fail rather than pass what it cannot see
  echo "keysweep-gate: shallow clone: fetch the whole history (git fetch --unshallow)" >&2
  history=2
else
  keysweep history . || history=$?
fi

# An error (2) outranks everything; otherwise the higher status wins.
if [ "$tree" -eq 2 ] || [ "$history" -eq 2 ]; then
  exit 2
fi
if [ "$tree" -gt "$history" ]; then
  exit "$tree"
fi
exit "$history"
