# Sourced by setup.sh, quickstart.sh and test.sh: sets PY, the Python that nmtprune is
# installed into and run with.
# - PYTHON=... wins;
# - inside an active virtual environment or conda env, that env's python3;
# - otherwise the project's own virtual environment, .venv in the clone (created on first
#   use, reused after), so a system Python marked externally managed (PEP 668: Debian 12,
#   Ubuntu 23.04+, Fedora) is never installed into.
if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
elif [ -n "${VIRTUAL_ENV:-}" ] || [ -n "${CONDA_PREFIX:-}" ]; then
  PY=python3
else
  PY=.venv/bin/python
  if [ ! -x "$PY" ]; then
    BASE=${NMTPRUNE_BASE_PYTHON:-python3}
    # Debian ships venv without ensurepip until python3-venv is installed; check first so
    # no half-made .venv is left behind.
    if ! "$BASE" -c "import venv, ensurepip" 2>/dev/null; then
      ver=$("$BASE" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null || echo 3)
      echo "error: $BASE cannot create a virtual environment (no venv/ensurepip module); install it (Debian/Ubuntu: apt-get install python$ver-venv) or set PYTHON=/path/to/python" >&2
      exit 2
    fi
    echo "setting up the project's virtual environment in .venv (use it with '. .venv/bin/activate' or '.venv/bin/nmtprune ...')" >&2
    # A venv records its own path in its scripts, so it is made in place; a failed
    # attempt is removed whole.
    if ! "$BASE" -m venv .venv; then
      rm -rf .venv
      echo "error: '$BASE -m venv .venv' failed (see above)" >&2
      exit 2
    fi
  fi
fi
