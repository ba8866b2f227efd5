#!/usr/bin/env bash
# Every binary's --help lists its own flags with their defaults and exits 0.
# Arguments: NAME=BINARY=SOURCE, where SOURCE is the file that defines the
# binary's absl flags (every ABSL_FLAG in it must be listed), or NAME=BINARY
# for a binary with a command line of its own (sessionctl), whose --help
# must list its global flags.
set -uo pipefail

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

for spec in "$@"; do
  IFS='=' read -r name binary source <<<"$spec"
  out=$(mktemp)
  "$binary" --help >"$out" 2>&1
  status=$?
  if ((status != 0)); then
    fail "$name --help exited $status"
  fi
  if [[ -z "$source" ]]; then
    for flag in --target --token_file --deadline --json; do
      grep -q -- "$flag" "$out" || fail "$name --help does not list $flag"
    done
    grep -q "default" "$out" || fail "$name --help shows no defaults"
  else
    # ABSL_FLAG(type, name, ...), possibly over several lines.
    mapfile -t flags < <(tr '\n' ' ' <"$source" |
      grep -oE 'ABSL_FLAG\([^,]+, *[A-Za-z0-9_]+' | sed -E 's/.*, *//')
    if ((${#flags[@]} == 0)); then
      fail "$name: no ABSL_FLAG found in $source"
    fi
    for flag in "${flags[@]}"; do
      # absl prints each flag as "    --flag (help text); default: value;",
      # wrapped over lines: one entry per line, then the flag's own entry.
      if ! sed 's/^    --/\x01--/' "$out" | tr '\n\001' ' \n' |
        grep -E -- "^--$flag \(" | grep -q "; *default: "; then
        fail "$name --help does not list --$flag with its default"
      fi
    done
    echo "$name: ${#flags[@]} flags listed"
  fi
  rm -f "$out"
done

if ((failures > 0)); then
  echo "$failures failures"
  exit 1
fi
echo "every binary's --help lists its flags"
