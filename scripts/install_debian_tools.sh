#!/usr/bin/env bash
# The Debian tools the tests run for real: promtool (package prometheus) checks the metrics files
# and the alert rules, prometheus-pushgateway receives the role's push. Installed with apt-get
# when missing (as root, no prompt: CI=true has no stdin), without starting their services:
# the tests start a Pushgateway of their own on a free loopback port and stop it.
set -euo pipefail

tools=(promtool:prometheus prometheus-pushgateway:prometheus-pushgateway)
missing=()
for pair in "${tools[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair##*:}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "debian tools: ${missing[*]} missing, and this is not root on a machine with apt-get;" \
       "install them (as root: apt-get update && apt-get install --no-install-recommends" \
       "${missing[*]}) and run this again" >&2
  exit 1
fi
echo "debian tools: installing ${missing[*]}"

# Debian's packages start their daemons (Prometheus on :9090, the Pushgateway on :9091) from
# their maintainer scripts; a policy-rc.d that denies every start keeps them stopped. One that is
# already there (container images ship one) is left as it is.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# tokenops.tokens install_debian_tools.sh: no service starts while installing\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  own_policy=true
fi
cleanup() { if $own_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# A fresh machine (a CI image) has no package lists yet: read them once, then install.
if ! apt-get update -qq </dev/null >/dev/null; then
  echo "debian tools: apt-get update failed (see above); ${missing[*]} not installed" >&2
  exit 1
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null; then
  echo "debian tools: apt-get install ${missing[*]} failed (see above)" >&2
  exit 1
fi
# Where systemd runs, the packages just installed also enabled their units (named as the
# packages) for the next boot: the tests need only the binaries.
if [ -d /run/systemd/system ]; then
  for unit in "${missing[@]}"; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
fi
for pair in "${tools[@]}"; do
  command -v "${pair%%:*}" >/dev/null || {
    echo "debian tools: ${pair%%:*} is still missing after installing ${pair##*:}" >&2; exit 1; }
done
