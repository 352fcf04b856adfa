# Sourced by scripts/serve and scripts/test: make .venv hold exactly what a requirements file asks.
# Reinstalls only when the requirements change, so a second run starts at once.

ensure_venv() {
  local requirements=$1
  local python=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $($python --version)"
    "$python" -m venv .venv
  fi
  local stamp=".venv/.installed-$(basename "$requirements")"
  local wanted
  wanted=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "installing $requirements into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" \
      2> >(grep -v "^WARNING: Location" >&2)
    echo "$wanted" > "$stamp"
  fi
}
