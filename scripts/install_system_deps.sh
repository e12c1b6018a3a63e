#!/usr/bin/env bash
# Installs the Debian packages muscall needs when they are missing: fluidsynth + a General MIDI soundfont (corpus
# synthesis) and chromium + chromedriver (the web page's browser test). Fast no-op when all are present.
set -euo pipefail
PKGS=(fluidsynth libfluidsynth3 fluid-soundfont-gm chromium chromium-driver)
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${PKGS[@]}"; do have "$p" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo -n"; else
  echo "error: missing Debian packages ${missing[*]} and no root/sudo; install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "error: could not install ${missing[*]} with apt-get; install them by hand (apt-get install ${missing[*]})" >&2
  exit 1
fi
