#!/usr/bin/env bash
# Generates the client SDKs from proto/ with buf and builds them, with local plugins only:
#   Python      messages (protoc's own python generator, the protoc grpcio-tools bundles),
#               gRPC stubs (grpcio-tools' generator, sdk/bin/protoc-gen-grpc_python) and type
#               stubs (mypy-protobuf) into sdk/python/src/edu, then `pip install ./sdk/python`
#               into the SDK virtualenv;
#   TypeScript  messages and service descriptors (protoc-gen-es) into
#               sdk/typescript/src/gen, then tsc into sdk/typescript/dist.
# The Rust SDK (sdk/rust) needs nothing here: edu-proto generates its code at build time.
#
# Needs `npm install` first (buf, protoc-gen-es, the TypeScript SDK's packages) and python3.
# Creates the virtualenv (.local/sdk-venv, or $EDU_SDK_VENV) from sdk/requirements.txt when it
# is missing or the requirements changed. Generated code is never committed (.gitignore).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${EDU_SDK_VENV:-$PWD/.local/sdk-venv}"
buf=node_modules/.bin/buf
for tool in "$buf" node_modules/.bin/protoc-gen-es; do
  if [ ! -x "$tool" ]; then
    echo "sdk/generate.sh: $tool is missing; run \`npm install\` first" >&2
    exit 1
  fi
done

if ! cmp -s sdk/requirements.txt "$venv/.requirements.txt"; then
  echo "SDK virtualenv: installing sdk/requirements.txt into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r sdk/requirements.txt
  cp sdk/requirements.txt "$venv/.requirements.txt"
fi
# buf finds protoc-gen-mypy*, and sdk/bin/protoc and protoc-gen-grpc_python run `python`,
# in the virtualenv.
export PATH="$venv/bin:$PATH"

rm -rf sdk/python/src/edu
"$buf" generate --template sdk/buf.gen.python.yaml
# Regular packages with their stubs marked as typed.
find sdk/python/src/edu -type d -exec touch {}/__init__.py \;
touch sdk/python/src/edu/py.typed
"$buf" generate --template sdk/buf.gen.typescript.yaml
echo "generated: $(find sdk/python/src/edu -name '*_pb2.py' | wc -l) Python modules with stubs," \
  "$(find sdk/typescript/src/gen -name '*_pb.ts' | wc -l) TypeScript modules"

"$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps \
  --force-reinstall ./sdk/python
"$venv/bin/pip" check --disable-pip-version-check >/dev/null
rm -rf sdk/python/build
echo "installed: edu_suite_client into $venv ($venv/bin/python)"

npm run --silent build -w sdk/typescript
echo "built: the TypeScript SDK into sdk/typescript/dist"
