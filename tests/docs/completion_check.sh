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

# expect_not UNWANTED TOOL WORD... : completing must NOT offer UNWANTED.
expect_not() {
  local unwanted=$1
  shift
  local got
  got=$(complete_words "$@")
  if grep -qxF -- "$unwanted" <<<"$got"; then
    echo "FAIL: completing '$*' offered '$unwanted'; got: $(tr '\n' ' ' <<<"$got")"
    fail=1
  else
    echo "ok: '$*' does not offer '$unwanted'"
  fi
}

expect zimbra_server_hostname zmlocalconfig -e zimbra_s
expect --edit zmlocalconfig --ed
expect nokey zmlocalconfig -m no

expect mcf zmprov mc
expect zimbraImapProxyBindPort zmprov mcf zimbraImapProxyBind
expect +zimbraMailTrustedIP zmprov mcf +zimbraMailTrusted
expect zimbraVirtualHostname zmprov md example.com zimbraVirtualHost
expect zimbraVirtualIPAddress zmprov md example.com zimbraVirtualHostname x zimbraVirtualIP
expect --json zmprov --js
# Only attributes a domain may carry: the IMAP proxy port is global/server.
expect_not zimbraImapProxyBindPort zmprov md example.com zimbraImapProxyBind

expect --account zmproxypurge --acc
expect --log-level zmlookupd --log-l
expect warn zmlookupd --log-level w
expect --check zmproxyd --che
expect --dry-run zmproxyconfig --dry
expect --imap-ports zmproxyconfig -e -m --imap
expect redirect zmproxyconfig -e -w -x re
expect 143:7143:993:7993 zmproxyconfig -d -m -i ""
expect start zmproxyctl st
expect status zmproxyctl st
expect stop zmproxyctl st
expect genconf zmproxyctl g
expect --grace zmproxyctl --gr
expect --no-genconf zmproxyctl stop --no
expect throttle zmproxyctl th
expect list zmproxyctl throttle ""
expect show zmproxyctl --home /tmp throttle s
expect clear zmproxyctl throttle c
expect --json zmproxyctl throttle list --js
expect_not list zmproxyctl status ""
expect_not show zmproxyctl throttle show ""
expect --log-level zmconfigd --log-l
expect debug zmconfigd --log-level ""
expect --debounce zmconfigd --deb
# Fleet-wide admin (issue 19): the option and the server attributes of the control endpoints.
expect --fleet zmproxyctl status --fl
expect zmproxyControlPort zmprov ms proxy1.example.com zmproxyControl
expect zmlookupdControlPort zmprov ms mbox1.example.com zmlookupdControl

# All bash completions sourced in one shell must not overwrite each other's
# completion function.
for f in "$comp"/bash/*; do
  # shellcheck disable=SC1090
  source "$f"
done
declare -A owner=()
for f in "$comp"/bash/*; do
  tool=${f##*/}
  fn=$(complete -p "$tool" 2>/dev/null | sed -n 's/.*-F \([^ ]*\).*/\1/p')
  if [[ -z $fn ]]; then
    echo "FAIL: $f registers no completion function for $tool"
    fail=1
  elif [[ -n ${owner[$fn]:-} ]]; then
    echo "FAIL: $tool and ${owner[$fn]} share the completion function $fn"
    fail=1
  else
    owner[$fn]=$tool
    echo "ok: $tool completes with $fn"
  fi
done

for f in "$comp"/zsh/_*; do
  zsh -n "$f" || { echo "FAIL: zsh cannot parse $f"; fail=1; }
done
for f in "$comp"/fish/*.fish; do
  fish -n "$f" || { echo "FAIL: fish cannot parse $f"; fail=1; }
done
exit $fail
