#!/bin/sh
# Node.js 24 and aws-lambda-ric (the runtime interface client of the nodejs24.x runtime) for the
# end-to-end tests, installed into $1 (default .node-runtime), both from the npm registry:
#   - Node.js itself from node-linux-<arch>, which holds the official build with its headers;
#   - aws-lambda-ric at the version pinned in scripts/node-runtime/package-lock.json, its native
#     addon built against those headers (it needs cmake, autoconf, automake, libtool, g++).
# Then $1/bin/node is Node 24 and $1/node_modules/aws-lambda-ric/index.mjs the client.
set -eu

NODE_VERSION=24.22.3
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-.node-runtime}
case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-runtime.sh: no Node.js build for $(uname -m)" >&2; exit 1 ;;
esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
npm install --prefix "$dir/node" --no-save --no-audit --no-fund --loglevel=error \
  "node-linux-$arch@$NODE_VERSION"
node_home="$dir/node/node_modules/node-linux-$arch"
mkdir -p "$dir/bin"
ln -sf "$node_home/bin/node" "$dir/bin/node"

cp "$here/node-runtime/package.json" "$here/node-runtime/package-lock.json" "$dir/"
cd "$dir"
# npm runs under Node 24 too, so node-gyp builds the addon for the Node that will load it.
PATH="$dir/bin:$PATH" npm_config_nodedir="$node_home" \
  npm ci --no-audit --no-fund --loglevel=error --foreground-scripts >"$dir/build.log" 2>&1 || {
  tail -n 40 "$dir/build.log" >&2
  exit 1
}
test -f "$dir/node_modules/aws-lambda-ric/index.mjs"
test -f "$dir/node_modules/aws-lambda-ric/rapid-client.node"
echo "Node $("$dir/bin/node" --version) with aws-lambda-ric in $dir"
