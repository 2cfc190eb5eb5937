"""`python -m configs`: exit codes and output, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT, Project, valid_job


def run_cli(*args: str, cwd=REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "configs", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )


def project_args(project: Project) -> list[str]:
    """Point the CLI at a test project instead of the repository's configs."""
    return [
        "--jobs-dir",
        str(project.jobs_dir),
        "--environments-dir",
        str(project.environments_dir),
        "--root",
        str(project.root),
    ]


def test_validate_examples_exits_0() -> None:
    result = run_cli("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configs ok: 6 jobs, environments: dev, prod")


def test_validate_exits_1_with_one_line_per_problem_and_no_traceback(
    valid_project: Project,
) -> None:
    valid_project.write_job(
        "ingest", valid_job("ingest", glue={"version": "5.1", "worker_type": "G.025X"})
    )
    valid_project.write_job("b", valid_job("b_job", depends_on=["ghost"]))

    result = run_cli("validate", *project_args(valid_project), cwd=valid_project.root)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "configs/jobs/b.yaml: depends_on[0]: unknown job 'ghost'; known: b_job, ingest",
        "configs/jobs/ingest.yaml: glue: worker_type 'G.025X' is not allowed on Glue 5.1 Spark "
        "jobs; accepted: G.1X, G.2X, G.4X, G.8X, G.12X, G.16X, R.1X, R.2X, R.4X, R.8X",
        "2 config problems",
    ]


def test_validate_one_environment(valid_project: Project) -> None:
    result = run_cli(
        "validate",
        "--env",
        "qa",
        "--jobs-dir",
        str(valid_project.jobs_dir),
        "--environments-dir",
        str(valid_project.environments_dir),
        "--root",
        str(valid_project.root),
        cwd=valid_project.root,
    )
    assert result.returncode == 1
    assert "configs/environments: env: no environment 'qa'; accepted: dev" in result.stderr


def test_compile_writes_the_manifest_to_stdout() -> None:
    result = run_cli("compile", "--env", "prod", "--out", "-")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["environment"]["name"] == "prod"
    assert manifest["jobs"]["sales_ingest"]["glue"]["workers"] == 10  # prod override


def test_usage_error_exits_2() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_schema_check_passes_on_committed_schemas() -> None:
    result = run_cli("schema", "--check")
    assert result.returncode == 0, result.stderr


def test_validate_given_files_checks_them_among_their_siblings(valid_project: Project) -> None:
    valid_project.write_job("b", valid_job("b_job", depends_on=["ingest"]))
    bad = valid_project.write_job("c", valid_job("c_job", glue={"workers": 1}))
    env_args = ["--environments-dir", str(valid_project.environments_dir)]
    root_args = ["--root", str(valid_project.root)]

    good = run_cli("validate", "configs/jobs/b.yaml", *env_args, *root_args, cwd=valid_project.root)
    assert good.returncode == 0, good.stderr  # b_job's dependency resolves among its siblings
    assert good.stdout.startswith("configs ok: 1 jobs")

    result = run_cli("validate", str(bad), "nope.yaml", *env_args, *root_args)
    assert result.returncode == 1
    assert "c.yaml: glue.workers: Input should be greater than or equal to 2" in result.stderr
    assert "nope.yaml: (file): does not exist" in result.stderr
