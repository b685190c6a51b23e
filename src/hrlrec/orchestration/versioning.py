"""One git commit and tag per published day, with the day's data and models pushed to the DVC remote.

A versioned workspace is a git clone of the project (so `dvc.yaml`, `src/`
and `data_checks/` are there for DVC to hash) with a DVC remote configured in
`.dvc/config`: a local folder by default, any DVC remote (s3://, gs://,
ssh://) by `init(..., remote=URL)`. After a day is published,
`commit_day` sets `ds` in the workspace's params.yaml to that day, records
every stage's outputs with `dvc commit` (nothing re-runs), pushes them, and
commits dvc.lock, params.yaml, the metrics and the day's report to git with
the tag `ds-YYYY-MM-DD`. Later, `git checkout ds-YYYY-MM-DD && dvc pull`
restores exactly that day's data and models (tests/test_versioning.py).

Runs share the workspace, so the DAG allows one active run at a time.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from hrlrec import atomic
from hrlrec.errors import BadInput
from hrlrec.layout import Layout

log = logging.getLogger(__name__)

REMOTE_NAME = "storage"
COMMITTER = ("hrlrec pipeline", "hrlrec@localhost")


def tag_of(ds: str) -> str:
    return f"ds-{ds}"


def _run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if check and out.returncode != 0:
        raise BadInput(f"`{' '.join(cmd)}` failed in {cwd}:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return out


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    name, email = COMMITTER
    return _run(["git", "-c", f"user.name={name}", "-c", f"user.email={email}", *args], root, check)


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "dvc", *args], root)


def is_versioned(root: Path) -> bool:
    return (root / ".git").exists() and (root / ".dvc").is_dir() and (root / "dvc.yaml").is_file()


def init(root: Path, project: Path, remote: str | None = None) -> Path:
    """Make `root` a versioned workspace: a clone of the git repo `project`, with a DVC remote.

    An existing versioned workspace is left as it is. The default remote is a
    folder beside the workspace (`<root>.dvc-remote`).
    """
    root = root.resolve()
    if is_versioned(root):
        return root
    if root.exists() and any(root.iterdir()):
        raise BadInput(f"{root}: exists and is not a versioned workspace; choose an empty or new folder")
    _run(["git", "clone", "--quiet", str(project.resolve()), str(root)], project)
    if not (root / ".dvc").is_dir():
        _dvc(root, "init", "--quiet")
    url = remote or str(root.parent / f"{root.name}.dvc-remote")
    if remote is None:
        Path(url).mkdir(parents=True, exist_ok=True)
    _dvc(root, "remote", "add", "--default", "--force", REMOTE_NAME, url)
    _dvc(root, "config", "core.autostage", "true")
    _git(root, "add", ".dvc/config")
    _git(root, "commit", "--quiet", "-m", f"hrlrec workspace: DVC remote {url}", check=False)
    return root


def set_day(params: Path, ds: str) -> None:
    """Point the `ds` key of params.yaml at `ds`, keeping every comment and the layout."""
    text = params.read_text()
    new, count = re.subn(r"^ds:\s*[\"']?[0-9-]+[\"']?", f'ds: "{ds}"', text, count=1, flags=re.M)
    if count != 1:
        raise BadInput(f"{params}: no top-level `ds:` line to set")
    atomic.write_text(params, new)  # a crash mid-write must not leave a truncated params.yaml


def commit_day(layout: Layout, ds: str, version: str | None) -> dict[str, Any]:
    """Record, push, commit and tag the state of the workspace after day `ds` was published."""
    root = layout.root.resolve()
    if not is_versioned(root):
        raise BadInput(f"{root}: not a versioned workspace (git + DVC); see `hrlrec.orchestration.versioning.init`")
    set_day(layout.params_file, ds)
    _dvc(root, "commit", "--force", "--quiet")
    _dvc(root, "push", "--quiet")
    day_report = layout.report_page(ds).parent
    wanted = [layout.dvc_lock, layout.params_file, layout.metrics, *([day_report] if day_report.is_dir() else [])]
    paths = [str(p.resolve().relative_to(root)) for p in wanted]
    gitignores = [str(p.relative_to(root)) for p in root.rglob(".gitignore") if ".git" not in p.parts]
    # --force: the project's .gitignore keeps metrics and reports out of the developer's checkout;
    # in a versioned workspace they are exactly what the day's commit is for.
    _git(root, "add", "--force", "--", *paths)
    _git(root, "add", "--", *gitignores)
    message = f"hrlrec {ds}: published {version}" if version else f"hrlrec {ds}"
    _git(root, "commit", "--quiet", "--allow-empty", "-m", message)
    _git(root, "tag", "--force", tag_of(ds))
    revision = _git(root, "rev-parse", "HEAD").stdout.strip()
    log.info("versioned %s as %s (%s)", ds, tag_of(ds), revision[:10])
    return {"ds": ds, "tag": tag_of(ds), "revision": revision}
