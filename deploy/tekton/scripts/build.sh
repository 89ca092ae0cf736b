#!/usr/bin/env bash
# Tekton step: build deploy/image/Containerfile with buildah and push it, writing the pushed digest and reference
# as Task results, what deploy/image/build's "image" stage does on a workstation. Its two other stages are made
# once by an operator and pulled from the registry here (docs/deploy.md "Qualifying a checkpoint"): the base image
# (mmdebstrap needs a Debian host and privileges a pod should not have) and the wheelhouse (pinned to the versions
# the test suite ran), as an image whose root holds the wheels, given to the build as its "wheels" context.
# Buildah's storage is the cache workspace: the dependency layers survive between runs. Inputs come from the
# environment, which the Task's step maps from params and workspaces.
set -euo pipefail

authfile="${DOCKERCONFIG_DIR}/config.json"
[[ -f $authfile ]] || { echo "build: no config.json in the registry credentials workspace" >&2; exit 2; }
storage=(--storage-driver "${STORAGE_DRIVER}")
cd "${SOURCE_DIR}"
echo "build: ${IMAGE} (${VARIANT}) from ${CONTAINERFILE} on ${BASE_IMAGE}, wheels ${WHEELS_IMAGE}"
buildah "${storage[@]}" bud \
  --isolation chroot \
  --authfile "$authfile" \
  --tls-verify="${TLSVERIFY}" \
  --layers \
  --pull=missing \
  -f "${CONTAINERFILE}" \
  --build-context "wheels=container-image://${WHEELS_IMAGE}" \
  --build-arg "BASE_IMAGE=${BASE_IMAGE}" \
  --build-arg "VARIANT=${VARIANT}" \
  --build-arg "REVISION=${REVISION}" \
  --build-arg "SOURCE=${SOURCE_URL}" \
  -t "${IMAGE}" \
  .
digestfile=$(mktemp)
buildah "${storage[@]}" push --authfile "$authfile" --tls-verify="${TLSVERIFY}" --digestfile "$digestfile" \
  "${IMAGE}" "docker://${IMAGE}"
digest=$(tr -d '[:space:]' < "$digestfile")
[[ $digest == sha256:* ]] || { echo "build: push wrote no digest (got '${digest}')" >&2; exit 1; }
printf '%s' "$digest" > "${RESULT_IMAGE_DIGEST}"
printf '%s' "${IMAGE}" > "${RESULT_IMAGE_URL}"
echo "build: pushed ${IMAGE}@${digest}"
