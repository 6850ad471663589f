#!/usr/bin/env bash
# The whole test suite: Rust (`cargo test --workspace`: unit, integration and doc tests), then the
# Python package's tests (pytest) against an extension built from this tree with maturin, in a
# virtualenv under target/ (created on first use; needs python3 with venv and access to PyPI for
# maturin, numpy and pytest, and for Pillow and tokenizers, which the Python examples use).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace

venv="${INFC_PY_VENV:-target/py-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.5,<2" numpy pytest pillow tokenizers
(cd crates/infc-python && VIRTUAL_ENV="$PWD/../../$venv" PATH="$PWD/../../$venv/bin:$PATH" maturin develop -q)
"$venv/bin/python" -m pytest -q crates/infc-python/tests
