#!/usr/bin/env bash
# TeX Live from Debian for the write-up stage (pdflatex, bibtex, latexmk, chktex).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
    texlive-latex-base texlive-latex-extra texlive-fonts-recommended texlive-science chktex latexmk
