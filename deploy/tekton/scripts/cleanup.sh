#!/bin/sh
# Tekton step (finally): remove this PipelineRun's directory (source checkout, report) from the pipeline's volume;
# the build cache beside it stays. Inputs come from the environment, which the Task's step maps.
set -eu
case "${RUN_UID}" in
  "" | */* | . | ..) echo "cleanup: refusing run id '${RUN_UID}'" >&2; exit 2 ;;
esac
if [ -e "${RUNS_DIR}/${RUN_UID}" ]; then
  rm -rf -- "${RUNS_DIR:?}/${RUN_UID}"
  echo "cleanup: removed ${RUNS_DIR}/${RUN_UID}"
else
  echo "cleanup: nothing at ${RUNS_DIR}/${RUN_UID}"
fi
