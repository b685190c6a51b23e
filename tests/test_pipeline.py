"""The step table is the one list of steps: dvc.yaml, the CLI, the Airflow tasks and publish agree with it."""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml

from hrlrec import pipeline
from hrlrec.cli import STEP_CLI, build_parser
from hrlrec.orchestration import tasks
from tests.conftest import ROOT, tiny_config


def _dvc_stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _params(stage: dict) -> set[str]:
    """A stage's params as names; `- params.yaml:` (all of the file) is pipeline.ALL_PARAMS."""
    names = set()
    for entry in stage.get("params", []):
        if isinstance(entry, dict):
            names.update(k if v is None else f"{k}:{','.join(v)}" for k, v in entry.items())
        else:
            names.add(entry)
    return names


def expected_stages() -> dict[str, dict]:
    """The dvc.yaml stages the step table implies: name, command, params it reads, code it runs."""
    return {s.name: {"cmd": s.dvc_command, "params": set(s.params), "code": set(s.code)} for s in pipeline.STEPS}


def test_dvc_yaml_has_exactly_the_steps_of_the_table_in_order() -> None:
    assert list(_dvc_stages()) == [s.name for s in pipeline.STEPS]


def test_each_dvc_stage_runs_the_steps_command_reads_its_params_and_depends_on_its_code() -> None:
    stages = _dvc_stages()
    for name, want in expected_stages().items():
        stage = stages[name]
        assert stage["cmd"] == want["cmd"], name
        assert _params(stage) == want["params"], f"{name}: dvc.yaml params {_params(stage)} != {want['params']}"
        assert want["code"] <= set(stage["deps"]), f"{name}: dvc.yaml deps lack the code it runs"


def test_the_table_check_fails_when_dvc_yaml_disagrees(tmp_path: Path) -> None:
    """The comparison above is not vacuous: a stage that forgot a params section is told apart."""
    stages = _dvc_stages()
    stages["stability"]["params"] = ["gates.stability"]  # forgot `seed`
    assert _params(stages["stability"]) != expected_stages()["stability"]["params"]


def test_every_step_is_a_function_of_workspace_and_day() -> None:
    for s in pipeline.STEPS:
        params = list(inspect.signature(s.function()).parameters)
        assert params[:2] == ["ws", "ds"], f"{s.module}.run{params}"


def test_the_cli_has_one_subcommand_per_step_with_a_day() -> None:
    parser = build_parser()
    assert set(STEP_CLI) == set(pipeline.BY_NAME)
    for s in pipeline.STEPS:
        args = parser.parse_args([s.name, "--ds", "2026-11-08"])
        assert args.command == s.name and args.ds == "2026-11-08"


def test_backfill_is_on_by_default_on_the_cli_as_in_dvc_and_airflow() -> None:
    parser = build_parser()
    for name in ("land", "ingest", "validate"):
        assert parser.parse_args([name, "--ds", "2026-11-08"]).backfill is True
        assert parser.parse_args([name, "--ds", "2026-11-08", "--no-backfill"]).backfill is False
        assert inspect.signature(pipeline.step(name).function()).parameters["backfill"].default is True
        assert "--backfill" not in pipeline.step(name).dvc_command  # nothing to switch on: it is the default


def test_airflow_tasks_and_publish_use_the_tables_gates() -> None:
    assert pipeline.GATES == ("evaluate", "stability", "export")
    assert set(tiny_config().registry.publish_requires) <= set(pipeline.GATES)
    for name in pipeline.BY_NAME:
        if pipeline.step(name).gate:
            continue  # gates share tasks.gate(name, ...); the DAG makes one task per gate of the table
        assert hasattr(tasks, name), f"orchestration.tasks has no task for step {name}"
    dag = (ROOT / "dags" / "hrlrec_daily.py").read_text()
    assert "release_gate(name) for name in GATES" in dag


def test_simulating_is_its_own_step_never_inside_ingest() -> None:
    source = (ROOT / "src" / "hrlrec" / "ingest.py").read_text()
    assert "simulator" not in source
    assert pipeline.STEPS[0].name == "land" and pipeline.STEPS[1].name == "ingest"


def test_the_data_steps_are_the_tables_first_steps_up_to_the_dataset() -> None:
    """What benches build before training (`build_data`) is the pipeline's own order, not a copy of it."""
    names = [s.name for s in pipeline.STEPS]
    assert list(pipeline.DATA_STEPS) == names[: names.index("dataset") + 1]
