#!/usr/bin/env bash
# Print the path of a Python interpreter of version $1 (for example 3.12): on PATH as
# pythonX.Y, else in pyenv's versions folder. Exit 1 when there is none.
set -euo pipefail
want="$1"
for candidate in "python$want" "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/$want"*/bin/python; do
  if path=$(command -v "$candidate" 2>/dev/null) && [ -n "$path" ]; then
    if "$path" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; then
      echo "$path"; exit 0
    fi
  fi
done
for candidate in /root/.pyenv/versions/"$want"*/bin/python "$HOME"/.pyenv/versions/"$want"*/bin/python; do
  [ -x "$candidate" ] && { echo "$candidate"; exit 0; }
done
echo "no Python $want found (install it, or set PYTHON_${want/./})" >&2
exit 1
