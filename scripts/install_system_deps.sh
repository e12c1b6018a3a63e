#!/usr/bin/env bash
# Installs the Debian packages muscall needs when they are missing. Fast no-op when all are present.
#   required: fluidsynth + the General MIDI soundfonts the default corpus renders with (FluidR3 GM, FluidR3 Mono,
#             MuseScore General Lite; muscall/data/synth/soundfonts.py), python3-venv when venv cannot bootstrap pip
#             (fluid-soundfont-gs is not among them: it holds only GS sound effects, none of the GM programs)
#   optional (--with-browser): chromium + chromedriver for the web page's browser test (it skips without them)
#   optional (--with-bench): wrk, the HTTP load generator of scripts/bench_load.py (it falls back to httpx without it)
# Usage: install_system_deps.sh [--with-browser] [--with-bench]
set -euo pipefail
REQUIRED=(fluidsynth libfluidsynth3 fluid-soundfont-gm fluidr3mono-gm-soundfont musescore-general-soundfont-small)
OPTIONAL=()
for arg in "$@"; do
  case "$arg" in
    --with-browser) OPTIONAL+=(chromium chromium-driver) ;;
    --with-bench) OPTIONAL+=(wrk) ;;
  esac
done
"${PYTHON:-python3}" -c "import ensurepip" 2>/dev/null || REQUIRED+=(python3-venv)

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing_of() { local out=(); for p in "$@"; do have "$p" || out+=("$p"); done; echo "${out[*]:-}"; }
need=$(missing_of "${REQUIRED[@]}")
want=$(missing_of "${OPTIONAL[@]:-}")
[ -z "$need$want" ] && exit 0
if ! command -v apt-get >/dev/null; then
  [ -n "$need" ] && { echo "error: muscall needs the Debian packages: $need (no apt-get here; install them by hand)" >&2; exit 1; }
  echo "note: optional packages missing ($want): the browser test or wrk load runs will be skipped" >&2; exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  [ -n "$need" ] && { echo "error: missing Debian packages $need and no root/sudo; run: sudo apt-get install $need" >&2; exit 1; }
  echo "note: optional packages missing ($want) and no root/sudo: the browser test or wrk load runs will be skipped" >&2; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing system packages: $need $want"
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
if [ -n "$need" ] && ! $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null; then
  echo "error: could not install $need with apt-get; install them by hand (apt-get install $need)" >&2
  exit 1
fi
# shellcheck disable=SC2086
if [ -n "$want" ] && ! $SUDO apt-get install -y -qq --no-install-recommends $want >/dev/null; then
  echo "note: could not install $want: the browser test or wrk load runs will be skipped" >&2
fi
exit 0
