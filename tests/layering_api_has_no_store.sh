#!/usr/bin/env bash
# DESIGN §3: handlers in api/ call use cases only; no store type appears in api/. The use cases
# (registry/) open their own read snapshots. Fails, naming the lines, if src/api mentions the
# store: an include of store/…, the store:: namespace, or one of its types by name.
# Usage: tests/layering_api_has_no_store.sh path/to/src/api
set -euo pipefail
dir=$1
[ -d "$dir" ] || { echo "FAIL: no directory $dir" >&2; exit 1; }
pattern='"store/|<store/|\bstore::|\bRegistry(Reader|Store|Txn)\b'
if hits=$(grep -rnE "$pattern" "$dir" --include='*.h' --include='*.cc'); then
  echo "FAIL: src/api must not touch the store (DESIGN §3):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "ok: no store type in $dir"
