"""An environment without egress refuses a step that calls the internet, on the shipped
examples: prod's file (no egress) replaces customer_ltv's steps with its Lambda alone; without
that override, `python -m configs validate` (make validate) refuses the dbt Cloud and Tableau
steps, naming prod's file and what to add."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT


def test_prod_without_its_override_refuses_customer_ltvs_internet_steps(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(REPO_ROOT / "configs", configs, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "dags", tmp_path / "dags",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copytree(REPO_ROOT / "glue_scripts" / "jobs", tmp_path / "glue_scripts" / "jobs",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    prod = configs / "environments" / "prod.yaml"
    config = yaml.safe_load(prod.read_text())
    assert not config["network"].get("egress")
    del config["job_overrides"]["customer_ltv"]
    prod.write_text(yaml.safe_dump(config, sort_keys=False))

    done = subprocess.run([sys.executable, "-m", "configs", "validate"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    refused = [line for line in done.stderr.splitlines() if "customer_ltv.yaml" in line]
    assert len(refused) == 2, done.stderr
    dbt, tableau = refused
    assert "downstream[0].type: step 'build_ltv_models' (dbt_cloud) calls dbt Cloud" in dbt
    assert "downstream[1].type: step 'refresh_ltv_workbook' (tableau) calls Tableau" in tableau
    for line in refused:
        assert "environment 'prod' has no route out of its VPC" in line
        assert "set 'network: {egress: true}' in configs/environments/prod.yaml" in line
