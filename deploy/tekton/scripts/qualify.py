#!/usr/bin/env python3
"""Tekton step: run the quality gate (`python -m renderer qualify`) in the image the build made, and hand its
figures to the pipeline as Task results.

Every input comes from the environment (the Task's step maps params, workspace and result paths to it), so this file
runs the same inside the Task (where it is the step's inline script, kept equal by deploy/tekton/sync_scripts.py) and
in tests/deploy/test_tekton.py. A gate that fails is not a step that fails: the results say passed=false, the report
still gets published, and the pipeline's `when` expressions stop promotion. Only a run that could not qualify at all
(usage error, backend unavailable: exit status 2, or a crash) fails the step.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

# The files `renderer qualify --results-dir` writes, each the value of the Task result of the same name.
RESULTS = (
    "passed",
    "cases-passed",
    "cases-total",
    "duration-error-ms",
    "offset-frames",
    "sync-correlation",
    "renderer-version",
    "checkpoint-digest",
    "backend",
)


def result_path(name: str) -> Path:
    return Path(os.environ["RESULT_" + name.upper().replace("-", "_")])


def number(text: str) -> int | float | None:
    """A figure as JSON can hold it: "nan" (a case that raised, nothing measured) becomes null."""
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return None if value != value else value
    return None


def sonic_environment(env: dict) -> dict:
    """SONIC_HOME and SONIC_CHECKPOINTS inside the weights volume, which must hold both."""
    model = Path(env["MODEL_DIR"])
    home = model / env.get("SONIC_CHECKOUT", "Sonic")
    checkpoints = model / env.get("CHECKPOINT", "checkpoints")
    for what, path in (("the Sonic checkout", home), ("the checkpoint", checkpoints)):
        if not path.is_dir():
            print(
                f"qualify: {what} is not at {path}: the PipelineRun must mount the volume with the Sonic checkout "
                f"and its weights as the pod template volume `sonic-model` (deploy/tekton/examples/"
                f"pipelinerun-sonic.yaml), and the `checkpoint` param names a directory in it",
                file=sys.stderr,
            )
            raise SystemExit(2)
    return {**env, "SONIC_HOME": str(home), "SONIC_CHECKPOINTS": str(checkpoints)}


def main() -> int:
    env = dict(os.environ)
    backend = env["BACKEND"]
    reports = Path(env["REPORTS_DIR"])
    report, gate_results = reports / "report", reports / "results"
    if backend == "sonic":
        env = sonic_environment(env)
    command = [
        sys.executable,
        "-m",
        "renderer",
        "qualify",
        "--backend",
        backend,
        "--resolution",
        env.get("RESOLUTION", "256"),
        "--report",
        str(report),
        "--results-dir",
        str(gate_results),
    ]
    if env.get("CASES"):
        command += ["--cases", env["CASES"]]
    print("qualify:", " ".join(command), flush=True)
    status = subprocess.run(command, env=env).returncode
    if status not in (0, 1):
        print(f"qualify: the gate could not run (exit status {status}); nothing to publish", file=sys.stderr)
        return status
    missing = [name for name in RESULTS if not (gate_results / name).is_file()]
    if missing:
        print(f"qualify: the gate wrote no {', '.join(missing)} in {gate_results}", file=sys.stderr)
        return 2
    values = {name: (gate_results / name).read_text().strip() for name in RESULTS}
    if values["passed"] != ("true" if status == 0 else "false"):
        print(f"qualify: exit status {status} but passed={values['passed']!r}", file=sys.stderr)
        return 2
    for name, value in values.items():
        result_path(name).write_text(value)
    # results.json: what this run found, beside the report it publishes (and what promotion sends the portal).
    summary = {
        "passed": values["passed"] == "true",
        "backend": values["backend"],
        "renderer_version": values["renderer-version"],
        "checkpoint_digest": values["checkpoint-digest"],
        "figures": {
            key.replace("-", "_"): number(values[key])
            for key in ("duration-error-ms", "offset-frames", "sync-correlation", "cases-passed", "cases-total")
        },
        "resolution": int(env.get("RESOLUTION", "256")),
        "cases": env.get("CASES") or "all",
        "pipeline_run": env.get("PIPELINE_RUN", ""),
        "revision": env.get("REVISION", ""),
    }
    report.mkdir(parents=True, exist_ok=True)
    (report / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"qualify: {'PASSED' if summary['passed'] else 'FAILED'} {values['cases-passed']}/{values['cases-total']} "
        f"cases; duration error {values['duration-error-ms']} ms, offset {values['offset-frames']} frames, "
        f"sync correlation {values['sync-correlation']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
