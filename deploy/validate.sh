#!/usr/bin/env bash
# Renders every overlay and checks it offline: kubernetes-validate (the Kubernetes API
# schemas of the oldest and newest supported versions, strict: unknown fields fail),
# checkov (security and reliability rules; skipped checks are explained in checkov.yaml),
# and hadolint on the Dockerfile. Prints what it checked; exits non-zero on any failure.
# The tools are installed from deploy/requirements.txt into a virtualenv outside the clone.
set -euo pipefail
cd "$(dirname "$0")"

KUBERNETES_VERSIONS=(1.35.0 1.37.0)
cache="${EDU_TOOLS_DIR:-${HOME}/.cache/edu-suite}"
venv="$cache/deploy-venv-$(sha256sum requirements.txt | cut -c1-12)"
if [ ! -x "$venv/bin/checkov" ]; then
  echo "installing the checks into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
fi

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT

total=0
for overlay in overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" > "$rendered/$name.yaml"
  count=$(grep -c '^kind:' "$rendered/$name.yaml")
  total=$((total + count))
  echo "rendered $name: $count objects ($(grep '^kind:' "$rendered/$name.yaml" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $3; sep=", "}'))"
done
echo "rendered $total objects in all"

for version in "${KUBERNETES_VERSIONS[@]}"; do
  for file in "$rendered"/*.yaml; do
    # Custom resources (CloudNativePG, the Prometheus Operator's ServiceMonitor,
    # cert-manager's Certificate and Issuer) have no
    # schema here: kubernetes-validate skips them with a warning, left out below;
    # tests/rehearsal checks them against the services.
    if ! output=$("$venv/bin/kubernetes-validate" --strict --quiet \
      --kubernetes-version "$version" "$file" 2>&1); then
      echo "$output" >&2
      echo "kubernetes-validate $version failed on $(basename "$file")" >&2
      exit 1
    fi
    shown=$(grep -v "Couldn't find schema for kind \(Cluster\|Database\) with api version postgresql.cnpg.io" \
      <<<"$output" | grep -v "Couldn't find schema for kind ServiceMonitor with api version monitoring.coreos.com" \
      | grep -v "Couldn't find schema for kind \(Certificate\|Issuer\) with api version cert-manager.io" \
      || true)
    [ -z "$shown" ] || echo "$shown"
  done
  echo "kubernetes-validate $version --strict: every built-in object of every overlay passed"
done

"$venv/bin/checkov" --config-file checkov.yaml --framework kubernetes --directory "$rendered"
"$venv/bin/checkov" --config-file checkov.yaml --framework dockerfile --file Dockerfile

"$venv/bin/hadolint" Dockerfile
echo "hadolint: Dockerfile clean"
