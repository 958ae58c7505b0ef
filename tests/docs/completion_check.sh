#!/bin/bash
# Source each bash completion and complete words as a user would; check the
# zsh and fish adapters parse. usage: completion_check.sh COMPLETIONS_DIR BIN_DIR
set -euo pipefail
comp=$1
bin=$2
export PATH="$bin:$PATH"
export ZMPROXY_HOME
ZMPROXY_HOME=$(mktemp -d)
trap 'rm -rf "$ZMPROXY_HOME"' EXIT
fail=0

# complete_words TOOL WORD... : run the tool's bash completion function with
# the words typed so far (the last one is the partial word), print COMPREPLY.
complete_words() {
  local tool=$1
  shift
  # shellcheck disable=SC1090
  source "$comp/bash/$tool"
  local fn
  fn=$(complete -p "$tool" | sed -n 's/.*-F \([^ ]*\).*/\1/p')
  COMP_WORDS=("$tool" "$@")
  COMP_CWORD=$#
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$fn" "$tool" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\n' "${COMPREPLY[@]}"
}

expect() {
  local want=$1
  shift
  local got
  got=$(complete_words "$@")
  if ! grep -qxF -- "$want" <<<"$got"; then
    echo "FAIL: completing '$*' did not offer '$want'; got: $(tr '\n' ' ' <<<"$got")"
    fail=1
  else
    echo "ok: '$*' offers '$want'"
  fi
}

expect zimbra_server_hostname zmlocalconfig -e zimbra_s
expect --edit zmlocalconfig --ed
expect nokey zmlocalconfig -m no

for f in "$comp"/zsh/_*; do
  zsh -n "$f" || { echo "FAIL: zsh cannot parse $f"; fail=1; }
done
for f in "$comp"/fish/*.fish; do
  fish -n "$f" || { echo "FAIL: fish cannot parse $f"; fail=1; }
done
exit $fail
