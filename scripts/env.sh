# Source this to put the pinned toolchain first on PATH: `. scripts/env.sh`
export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/bin:$PATH"
# better-sqlite3 (a devDependency) builds its addon with node-gyp at install time: use the
# installed Node's own headers (/usr/include/node) instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ] && command -v node >/dev/null 2>&1; then
  _scope_node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  [ -f "$_scope_node_prefix/include/node/node_api.h" ] && export npm_config_nodedir="$_scope_node_prefix"
  unset _scope_node_prefix
fi
