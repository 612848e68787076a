# Shared by scripts/run and scripts/test (sourced): find Python ≥ 3.11, keep .venv in step with
# the pinned requirements, and install the Debian packages the project needs when we can.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf '\033[1m[评议]\033[0m %s\n' "$*" >&2; }

find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  say "需要 Python 3.11 或更新版本，但没有找到。"; exit 1
}

# ensure_venv REQUIREMENTS_FILE: create .venv and install the pins when they changed.
ensure_venv() {
  local requirements=$1 stamp
  if [ ! -x .venv/bin/python ]; then
    say "创建虚拟环境 .venv"
    "$(find_python)" -m venv .venv
  fi
  stamp=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)-$requirements
  if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ]; then
    say "安装依赖（$requirements）"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r "$requirements"
    echo "$stamp" > .venv/.installed
  fi
  export PATH="$ROOT/.venv/bin:$PATH"
  export FLASK_APP=run
}

# ensure_system_packages GROUP...: Debian packages listed under those groups in
# scripts/system-packages.txt. Installed with apt-get when we are root (or have sudo);
# otherwise we say what is missing and the features that need them report it clearly.
ensure_system_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local wanted missing=() pkg sudo=""
  wanted=$(awk -v groups=" $* " '!/^#/ && NF >= 2 && index(groups, " " $1 " ") { print $2 }' \
    scripts/system-packages.txt)
  for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
      say "缺少系统软件包：${missing[*]}（无 root 权限，请手动安装：apt-get install ${missing[*]}）"
      return 0
    fi
  fi
  say "安装系统软件包：${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null && \
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
}

# ensure_node_packages: the npm tools the tests run (package.json, pinned by package-lock.json),
# installed into node_modules when the lock changed. Without Node.js the tests that need these
# tools skip with the reason (and fail in CI, where PINGYI_REQUIRE_SERVICES=1).
ensure_node_packages() {
  # Only when npm is missing: a Node.js from elsewhere (e.g. NodeSource) brings its own npm and
  # conflicts with Debian's.
  command -v npm >/dev/null 2>&1 || ensure_system_packages node
  command -v npm >/dev/null 2>&1 || { say "没有 npm，跳过 Node.js 工具的安装（axe-core、Spectral、openapi-typescript）"; return 0; }
  local stamp
  stamp=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat node_modules/.installed 2>/dev/null)" != "$stamp" ]; then
    say "安装 Node.js 工具（package-lock.json）"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$stamp" > node_modules/.installed
  fi
}
