#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests, when it is missing (needs root), and a
# colour emoji font so activities show in screenshots as they do on people's desktops.
# Playwright drives it through executable_path; its own browser download is not used.
set -euo pipefail
EMOJI_FONT=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
if command -v chromium >/dev/null 2>&1 && [ -f "$EMOJI_FONT" ]; then
  echo "chromium: already installed ($(chromium --version 2>/dev/null | head -1))"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium: missing, and installing it needs root (apt-get install chromium)" >&2
  exit 1
fi
echo "chromium: installing Debian's packages (about a minute)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
echo "chromium: $(chromium --version | head -1)"
