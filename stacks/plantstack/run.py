"""Run the plant's Pulumi stacks (stacks/) with the real engine: preview, up, destroy, outputs.

The application's own entry point (docs/architecture.md): run with stacks/ on the module path,
as the Makefile's STACKRUN does (PYTHONPATH=stacks).

    python -m plantstack.run up --stack lab-ridgeway
    python -m plantstack.run preview --stack lab-ridgeway --json plan.json
    python -m plantstack.run destroy --stack lab-ridgeway

State lives in the local file backend (PULUMI_BACKEND_URL, default file://<repo>/.state/pulumi)
and is encrypted with PULUMI_CONFIG_PASSPHRASE from the environment; lab stacks (`lab-*`) fall
back to a fixed lab passphrase, since their state holds no secret (keys and certificates stay in
the lab state directory). The program runs as an Automation API inline program (the real engine
drives it; it needs only the `pulumi` CLI), or with the Python language host when
PLANTCTL_PULUMI_PROGRAM=local (or auto, and `pulumi-language-python` is installed).
`--work-dir DIR` runs from a generated project in DIR (tests use it, so their stack
configuration never lands in stacks/).

`--json FILE` writes the preview as `pulumi preview --json` does (steps with op, urn, type and
the new inputs): the input of the plan policy (policies/plan/, plantctl.gate.plan_check).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "stacks"
LAB_PASSPHRASE = "plantctl-lab-state-holds-no-secrets"  # noqa: S105 (lab stacks only, see above)
PROJECT = "plant"


class StackError(RuntimeError):
    pass


def environment() -> dict[str, str]:
    """PATH with the project's tools, the file backend, no update checks or telemetry."""
    env = {
        "PATH": os.pathsep.join(
            [str(REPO / ".tools" / "bin"), str(REPO / ".venv" / "bin"), os.environ.get("PATH", "")]
        ),
        "PULUMI_BACKEND_URL": os.environ.get(
            "PULUMI_BACKEND_URL", (REPO / ".state" / "pulumi").as_uri()
        ),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PLANTCTL_ROOT": str(REPO),
    }
    return env


def passphrase(stack: str) -> str:
    found = os.environ.get("PULUMI_CONFIG_PASSPHRASE")
    if found:
        return found
    if stack.startswith("lab-"):
        return LAB_PASSPHRASE
    raise StackError(
        f"set PULUMI_CONFIG_PASSPHRASE to run stack {stack!r} (only lab-* stacks have a default)"
    )


def has_language_host(env: dict) -> bool:
    """Run the program with the Python language host? PLANTCTL_PULUMI_PROGRAM=local|inline|auto
    (default inline: the same program in process, which needs only the CLI)."""
    mode = os.environ.get("PLANTCTL_PULUMI_PROGRAM", "inline")
    if mode == "inline":
        return False
    found = shutil.which("pulumi-language-python", path=env["PATH"]) is not None
    if mode == "local" and not found:
        raise StackError(
            "PLANTCTL_PULUMI_PROGRAM=local but pulumi-language-python is not installed"
        )
    return found


def write_project(work_dir: Path) -> Path:
    """A Pulumi project in work_dir whose program is stacks/ (for test and scratch stacks)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    main = os.path.relpath(STACKS, work_dir)
    (work_dir / "Pulumi.yaml").write_text(
        f"name: {PROJECT}\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        "    toolchain: pip\n"
        f"    virtualenv: {REPO / '.venv'}\n"
        f"main: {main}\n"
    )
    return work_dir


def open_stack(stack: str, work_dir: Path | None = None):
    from pulumi import automation as auto

    env = environment()
    os.environ.update(env)  # the CLI the Automation API starts inherits it
    secret = passphrase(stack)
    env["PULUMI_CONFIG_PASSPHRASE"] = secret
    os.environ["PULUMI_CONFIG_PASSPHRASE"] = secret
    backend = env["PULUMI_BACKEND_URL"]
    if backend.startswith("file://"):
        Path(backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    directory = write_project(work_dir) if work_dir else STACKS
    opts = auto.LocalWorkspaceOptions(work_dir=str(directory), env_vars=env)
    if has_language_host(env):
        return auto.create_or_select_stack(stack, work_dir=str(directory), opts=opts), "local"
    from plantstack.program import main

    def program():
        main()

    return (
        auto.create_or_select_stack(stack, project_name=PROJECT, program=program, opts=opts),
        "inline",
    )


class PlanRecorder:
    """Engine events -> the `pulumi preview --json` document (steps and change summary)."""

    def __init__(self):
        self.steps: list[dict] = []
        self.summary: dict = {}
        self.diagnostics: list[str] = []

    def __call__(self, event) -> None:
        pre = getattr(event, "resource_pre_event", None)
        if pre is not None and pre.metadata is not None:
            meta = pre.metadata
            step = {
                "op": str(getattr(meta.op, "value", meta.op)),
                "urn": meta.urn,
                "type": meta.type,
            }
            if meta.new is not None:
                step["newState"] = {
                    "urn": meta.new.urn,
                    "type": meta.new.type,
                    "inputs": dict(meta.new.inputs or {}),
                }
            if meta.old is not None:
                step["oldState"] = {"urn": meta.old.urn, "type": meta.old.type}
            if meta.diffs:
                step["diffs"] = list(meta.diffs)
            self.steps.append(step)
        diag = getattr(event, "diagnostic_event", None)
        if diag is not None and diag.severity in ("error", "warning"):
            self.diagnostics.append(diag.message.strip())

    def document(self, change_summary: dict) -> dict:
        return {"steps": self.steps, "changeSummary": change_summary}


def _summary(obj) -> dict:
    return {str(getattr(k, "value", k)): v for k, v in (obj or {}).items()}


def run(
    action: str,
    stack: str,
    *,
    config: dict[str, str] | None = None,
    work_dir: Path | None = None,
    plan_json: Path | None = None,
    expect_no_changes: bool = False,
    quiet: bool = False,
) -> dict:
    """Do one action; returns {action, stack, mode, seconds, changes, outputs?}."""
    started = time.monotonic()
    st, mode = open_stack(stack, work_dir)
    if config:
        from pulumi import automation as auto

        st.set_all_config({k: auto.ConfigValue(v) for k, v in config.items()})
    out = None if quiet else (lambda text: sys.stderr.write(text + "\n"))
    result: dict = {"action": action, "stack": stack, "mode": mode}
    if action == "preview":
        recorder = PlanRecorder()
        res = st.preview(on_event=recorder, on_output=out, expect_no_changes=expect_no_changes)
        result["changes"] = _summary(res.change_summary)
        if plan_json is not None:
            doc = recorder.document(result["changes"])
            plan_json.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str))
    elif action == "up":
        res = st.up(on_output=out, expect_no_changes=expect_no_changes)
        result["changes"] = _summary(res.summary.resource_changes)
        result["outputs"] = {k: v.value for k, v in res.outputs.items()}
    elif action == "destroy":
        res = st.destroy(on_output=out)
        result["changes"] = _summary(res.summary.resource_changes)
    elif action == "refresh":
        res = st.refresh(on_output=out)
        result["changes"] = _summary(res.summary.resource_changes)
    elif action == "outputs":
        result["outputs"] = {k: v.value for k, v in st.outputs().items()}
    elif action == "remove":
        st.workspace.remove_stack(stack)
    else:
        raise StackError(f"unknown action {action!r}")
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantstack.run", description=__doc__)
    parser.add_argument(
        "action", choices=("preview", "up", "refresh", "destroy", "outputs", "remove")
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, dest="plan_json", help="write the preview here")
    parser.add_argument("--expect-no-changes", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    config = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: write KEY=VALUE")
        config[key if ":" in key else f"plantctl:{key}"] = value
    try:
        result = run(
            args.action,
            args.stack,
            config=config,
            work_dir=args.work_dir,
            plan_json=args.plan_json,
            expect_no_changes=args.expect_no_changes,
            quiet=args.quiet,
        )
    except StackError as exc:
        print(f"plantctl stackrun: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"plantctl stackrun: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the Automation API's CommandError carries the engine's output
        print(f"plantctl stackrun: {args.action} of {args.stack} failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=1, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
