#!/usr/bin/env bash
# TeX Live from Debian for the write-up stage (pdflatex, bibtex, latexmk, chktex).
set -euo pipefail
if command -v latexmk >/dev/null && command -v pdflatex >/dev/null && command -v chktex >/dev/null \
    && kpsewhich siunitx.sty >/dev/null; then
  exit 0  # already installed
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
    texlive-latex-base texlive-latex-extra texlive-fonts-recommended texlive-science chktex latexmk
