#!/usr/bin/env bash
# ansible-test bootstraps pip in its virtualenvs with a get-pip.py it downloads from a host these
# machines cannot reach. Put our offline stand-in (scripts/offline_get_pip.py) where ansible-test
# looks first, for the pip version the ansible-test in virtualenv $1 asks for.
set -euo pipefail
venv="$1"
here="$(cd "$(dirname "$0")" && pwd)"
version=$("$venv/bin/python" - <<'PY'
import re, ansible_test, pathlib
text = (pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py').read_text()
print(re.search(r"pip='([0-9.]+)'", text).group(1))
PY
)
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cp "$here/offline_get_pip.py" "$cache/get_pip_${version//./_}.py"
