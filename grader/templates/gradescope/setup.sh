#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image
# (Ubuntu; written for the 22.04 base image and later). It installs the
# system packages the grader uses and the grader itself, in its own venv.
set -euo pipefail
SOURCE="${AUTOGRADER_SOURCE:-/autograder/source}"
VENV="${GRADER_VENV:-/autograder/venv}"

export DEBIAN_FRONTEND=noninteractive
apt-get update
# procps and util-linux: ps/pkill and prlimit, which the grader's runner uses.
apt-get install -y --no-install-recommends ca-certificates procps util-linux python3 python3-venv
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    # Ubuntu 22.04's python3 is 3.10; the grader needs 3.11 or later.
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PY=python3.11
fi

"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install -e "$SOURCE/socket-katas"
"$VENV/bin/python" -m grader --version
