"""Run the upload gate and the model sandbox on hostile models, as whatever unprivileged user starts it.

``tests/audits/test_unprivileged.py`` builds the models as root, hands them to uid 65534 and runs
``python -I -m tests.audits.unprivileged_driver <spec.json> <result.json>`` as that user. Each case
goes through what a non-root BOAS does with an upload and an audit: ``stage_artifact`` (unpack, read
MLmodel, require a signature, scan, decide how it may be executed), then ``predict_in_sandbox`` on the
unpacked model, with or without the instance's opt-in. What happened is written as JSON for the test to
judge; nothing is asserted here, so that every case is reported even when one goes wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from pathlib import Path


def main(spec_path: str, result_path: str) -> int:
    from audits.sandbox import SandboxError, SandboxLimits, bwrap_support, predict_in_sandbox
    from boas.registry.artifacts.archive_scan import ArchiveLimits
    from boas.registry.intake import stage_artifact
    from boas.registry.storage import Storage, Upload
    from registry_db.blobs import FilesystemBlobStore
    from registry_db.errors import ValidationFailed

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    base = Path(spec["base"])
    control = base / "canary" / "control"  # proves this user could have written every canary
    control.write_text("written by the driver", encoding="utf-8")
    report: dict = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
                    "python": sys.executable, "control_written": control.is_file(),
                    "bwrap": list(bwrap_support()), "cases": {}}
    storage = Storage(FilesystemBlobStore(base / "data"), ArchiveLimits(), 256 * 1024**2)
    storage.blobs.ensure()
    for case in spec["cases"]:
        outcome: dict = {}
        report["cases"][case["name"]] = outcome
        model_dir = Path(case["model_dir"])
        try:
            if case.get("zip"):
                staging = base / "staging" / case["name"]
                staging.mkdir(parents=True)
                with open(case["zip"], "rb") as stream:
                    try:
                        staged = stage_artifact(storage, Upload(stream, "model.zip"), staging, field="model",
                                                mlflow=True)
                    except ValidationFailed as exc:
                        outcome["upload"] = {"refused": exc.message, "errors": exc.errors}
                        continue
                outcome["upload"] = {"execution": staged.execution}
                model_dir = staging / "tree"  # the archive's single top directory is stripped
            for allow_code in case["runs"]:
                limits = SandboxLimits(**case.get("limits", {}))
                key = "opted_in" if allow_code else "default"
                try:
                    run = predict_in_sandbox(model_dir, Path(spec["data"]), columns=spec["columns"],
                                             threshold=0.5, limits=limits, allow_code=allow_code)
                except SandboxError as exc:
                    outcome[key] = {"code": exc.code, "reason": str(exc), "detail": exc.untrusted_detail[-1500:]}
                else:
                    outcome[key] = {"ran": True, "isolation": run.isolation, "format": run.format,
                                    "y_pred": sorted(set(run.y_pred.tolist()))}
        except Exception:  # noqa: BLE001 - reported to the test, which fails on it
            outcome["driver_error"] = traceback.format_exc()[-3000:]
        finally:
            shutil.rmtree(base / "staging" / case["name"], ignore_errors=True)
    Path(result_path).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
