# bench/apt.sh — sourced by bench/run.sh and bench/replay.sh: installs the
# Debian packages a benchmark needs. The caller defines log, die and have.

POLICY_RC_D=""   # set while a temporary /usr/sbin/policy-rc.d exists

# apt_install PKG...: install the packages with apt-get, as root. While it
# runs, a policy-rc.d keeps package scripts from starting services (the
# system nginx would take the benchmark's ports and cores); the caller's
# cleanup removes it if the script is interrupted.
apt_install() {
  [[ $EUID -eq 0 ]] || die "missing tools; run as root or install: apt-get install -y $*"
  have apt-get || die "missing $* and no apt-get to install them"
  log "installing $* (apt-get)"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    POLICY_RC_D=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC_D"
    chmod 755 "$POLICY_RC_D"
  fi
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq >&2
  timeout 900 apt-get install -y -qq --no-install-recommends "$@" >&2
  if [[ -n $POLICY_RC_D ]]; then rm -f "$POLICY_RC_D"; POLICY_RC_D=""; fi
}
