#!/usr/bin/env bash
# bash examples/tour.sh BUILD_DIR — runs every example in the seeds' order,
# each after a one-line banner taken from the first line of its source
# ("// NN_name: what it shows."). Exits non-zero if any example fails, after
# running them all, so one broken example does not hide the others.
set -u

if [ $# -ne 1 ]; then
  echo "usage: bash examples/tour.sh BUILD_DIR" >&2
  exit 2
fi
build=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

failed=()
for source in "$here"/[0-9][0-9]_*.cpp; do
  name=$(basename "$source" .cpp)
  what=$(head -n 1 "$source" | sed -e "s|^// *${name}: *||" -e 's|\.$||')
  echo "== ${name}: ${what} =="
  prog="$build/examples/$name"
  if [ ! -x "$prog" ]; then
    echo "tour: $prog is not built" >&2
    failed+=("$name")
    continue
  fi
  "$prog"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "tour: $name failed (exit status $rc)" >&2
    failed+=("$name")
  fi
  echo
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "tour: failed: ${failed[*]}" >&2
  exit 1
fi
