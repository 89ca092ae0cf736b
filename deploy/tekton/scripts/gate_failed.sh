#!/bin/sh
# Tekton step: a gate that failed ends the PipelineRun as failed, after its report was published, so a push that
# broke lip sync shows red. Inputs come from the environment, which the Task's step maps from params.
set -eu
echo "quality gate FAILED for ${BACKEND} ${VERSION}: ${CASES_PASSED}/${CASES_TOTAL} cases passed; not promoted." >&2
echo "report: ${REPORT_URL}" >&2
exit 1
