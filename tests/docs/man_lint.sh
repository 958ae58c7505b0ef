#!/bin/sh
# Every man page must pass `mandoc -T lint` without a single message.
set -eu
dir=$1
status=0
count=0
cd "$dir"  # mandoc resolves .Xr references to pages in the current directory
for page in *.[0-9]; do
  count=$((count + 1))
  if ! out=$(mandoc -T lint "$page" 2>&1) || [ -n "$out" ]; then
    echo "$out"
    status=1
  fi
done
[ "$count" -gt 0 ] || { echo "no man pages in $dir"; exit 1; }
[ "$status" -eq 0 ] && echo "man_lint: $count pages clean"
exit "$status"
