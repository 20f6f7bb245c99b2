"""Render, lint and validate the heavy-optimizer chart for every cut-over stage.

Runs with the venv's Python ($HOP_PYTHON): Helm itself through the helm-python-sdk wheel
(module helm_python, Helm's Go SDK bundled), and the kubernetes-validate CLI next to it.

    $HOP_PYTHON helm/render.py --out /tmp/hop-manifests --values helm/site.example.yaml

For each stage file (stages/<stage>.yaml, or only those named with --stage) the values are the
chart's defaults, then each --values file, then the stage file (maps merged, the rest replaced,
as `helm -f a -f b`). The chart is linted strictly (warnings fail), rendered as release `hop`,
written to <out>/<stage>.yaml and validated with `kubernetes-validate --strict` for each
--kube-version. <out>/report.json records every stage's lint messages and validation result.
Exit status 0 when every stage passed, 1 otherwise (the reasons on stderr).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import helm_python as helm

CHART = Path(__file__).resolve().parent / "heavy-optimizer"
RELEASE = "hop"
# Info-level lint findings (e.g. "icon is recommended") are fine; warnings and errors are not.
LINT_WARNING = 2


def merge(base, override):
    """Helm's merge of values files: maps recursively, everything else replaced."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = merge(base.get(key), value) if key in base else value
    return merged


def values_of(files):
    values = {}
    for path in files:
        values = merge(values, helm.values_from_yaml(Path(path).read_text()))
    return values


def render(values, namespace):
    """The manifests as one multi-document YAML text, in template order."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=RELEASE, namespace=namespace, is_install=True)
    documents = []
    for path in sorted(rendered):
        text = rendered[path].strip()
        if path.endswith(".yaml") and text:
            documents.append(f"# Source: {path}\n{text}\n")
    return "---\n".join(documents)


def validate(manifest, kube_version):
    """kubernetes-validate --strict on one file: None when valid, else its output."""
    tool = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(tool), "--strict", "--quiet", "--kubernetes-version", kube_version, str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return None
    return (result.stdout + result.stderr).strip() or f"exit status {result.returncode}"


def run_stage(stage_file, args):
    values = values_of([*args.values, stage_file])
    stage = {"stage_file": str(stage_file), "problems": []}
    lint = helm.lint(CHART, values, strict=True, namespace=args.namespace,
                     kube_version=f"v{args.kube_version[0]}")
    stage["lint"] = lint["messages"]
    stage["problems"] += [f"lint: {m['path']}: {m['error']}" for m in lint["messages"]
                          if m["severity"] >= LINT_WARNING]
    try:
        manifest_text = render(values, args.namespace)
    except helm.HelmError as error:
        stage["problems"].append(f"render: {error}")
        return stage
    manifest = args.out / f"{stage_file.stem}.yaml"
    manifest.write_text(manifest_text)
    stage["manifest"] = str(manifest)
    stage["validated"] = []
    for version in args.kube_version:
        failure = validate(manifest, version)
        if failure is None:
            stage["validated"].append(version)
        else:
            stage["problems"].append(f"kubernetes-validate {version}: {failure}")
    return stage


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the manifests")
    parser.add_argument("--values", action="append", default=[], metavar="FILE",
                        help="values file applied before the stage file (repeatable)")
    parser.add_argument("--stage", action="append", default=[], metavar="NAME",
                        help="only this stage (repeatable; default: every stages/*.yaml)")
    parser.add_argument("--namespace", default="heavy-optimizer")
    parser.add_argument("--kube-version", action="append", metavar="X.Y.Z",
                        help="Kubernetes version(s) to validate against (default 1.33.0 and "
                             "1.37.0; the first one is linted against too)")
    args = parser.parse_args()
    args.kube_version = args.kube_version or ["1.33.0", "1.37.0"]
    stages = sorted((CHART / "stages").glob("*.yaml"))
    if args.stage:
        stages = [CHART / "stages" / f"{name}.yaml" for name in args.stage]
    missing = [str(s) for s in stages if not s.is_file()]
    if missing or not stages:
        sys.exit(f"render.py: no such stage file: {', '.join(missing) or CHART / 'stages'}")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {s.stem: run_stage(s, args) for s in stages}
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    failed = {name: s["problems"] for name, s in report.items() if s["problems"]}
    for name, problems in failed.items():
        for problem in problems:
            print(f"render.py: stage {name}: {problem}", file=sys.stderr)
    print(f"render.py: {len(report) - len(failed)} of {len(report)} stages rendered, linted "
          f"and validated into {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
