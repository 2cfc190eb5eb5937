"""requirements.txt and plugins.zip as synth builds them (stacks/mwaa_files.py) and the
orchestration stack ships them: the wheels MWAA's image lacks, for the steps that need them.

MWAA's side, from the Amazon MWAA User Guide ("Managing Python dependencies in
requirements.txt"): plugins.zip is unpacked to /usr/local/airflow/plugins before
requirements.txt is installed, and a requirements.txt that starts with
"--find-links /usr/local/airflow/plugins" and "--no-index" installs from there alone. MWAA
installs it under Airflow's constraints for its Airflow version when the file gives none
(aws/amazon-mwaa-docker-images, images/airflow/3.3.1/python/mwaa/utils/user_requirements.py:
"Forcing local constraints"), so a wheel of another version than the constraints' fails.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from configs.models import JobConfig
from configs.mwaa_version import AIRFLOW_VERSION
from stacks.mwaa_files import (
    PLUGINS_ON_MWAA,
    WHEELHOUSE,
    MwaaFilesError,
    build_mwaa_files,
    plugin_pins,
)
from tests.conftest import REPO_ROOT, valid_job
from tests.synth import Synthesized

DBT = {"type": "dbt_cloud", "name": "run_models", "connection": "dbt_cloud", "job_id": 70403}
TABLEAU = {
    "type": "tableau", "name": "refresh_ltv", "connection": "tableau", "resource": "workbooks",
    "find": "Customer LTV", "match_with": "name",
}  # fmt: skip


def jobs(*steps: dict[str, Any]) -> dict[str, JobConfig]:
    return {"a_job": JobConfig.model_validate(valid_job("a_job", downstream=list(steps)))}


def constraints() -> dict[str, str]:
    path = REPO_ROOT / "mwaa" / "packages" / f"constraints-{AIRFLOW_VERSION}.txt"
    lines = path.read_text().splitlines()
    return {
        name.lower(): version
        for name, version in (line.split("==") for line in lines if "==" in line)
    }


def test_each_wheel_is_pinned_at_the_version_of_airflows_constraints() -> None:
    pinned = constraints()
    pins = plugin_pins()
    assert pins
    for name, pin in pins.items():
        assert pinned.get(name) == pin.version, name


def test_a_deployment_whose_steps_need_no_wheel_ships_requirements_as_they_are(
    tmp_path: Path,
) -> None:
    built = build_mwaa_files(jobs({"type": "lambda", "name": "x", "function": "f"}), tmp_path)
    assert built.plugins is None
    assert not (tmp_path / "plugins.zip").exists()
    assert built.requirements.read_text() == (REPO_ROOT / "mwaa" / "requirements.txt").read_text()


def test_the_zip_holds_the_wheels_the_steps_need_and_is_the_same_each_time(
    tmp_path: Path,
) -> None:
    first = build_mwaa_files(jobs(DBT, TABLEAU), tmp_path / "1")
    again = build_mwaa_files(jobs(TABLEAU, DBT), tmp_path / "2")
    assert first.plugins is not None
    assert again.plugins is not None
    assert first.plugins.read_bytes() == again.plugins.read_bytes()
    with zipfile.ZipFile(first.plugins) as archive:
        names = archive.namelist()  # at the root: unpacked into /usr/local/airflow/plugins
    assert names == [
        "apache_airflow_providers_dbt_cloud-4.9.3-py3-none-any.whl",
        "apache_airflow_providers_tableau-5.6.0-py3-none-any.whl",
        "defusedxml-0.7.1-py2.py3-none-any.whl",
        "tableauserverclient-0.41-py3-none-any.whl",
    ]
    lines = first.requirements.read_text().splitlines()
    assert lines.index(f"--find-links {PLUGINS_ON_MWAA}") < lines.index("--no-index")
    for pin in ("apache-airflow-providers-dbt-cloud==4.9.3",
                "apache-airflow-providers-tableau==5.6.0", "tableauserverclient==0.41",
                "defusedxml==0.7.1"):  # fmt: skip
        assert pin in lines
    only_dbt = build_mwaa_files(jobs(DBT), tmp_path / "3")
    with zipfile.ZipFile(only_dbt.plugins) as archive:
        assert archive.namelist() == ["apache_airflow_providers_dbt_cloud-4.9.3-py3-none-any.whl"]


def test_a_missing_or_changed_wheel_stops_synth_saying_what_to_run(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MwaaFilesError, match=r"no wheel of apache-airflow-providers-dbt-cloud"
                                             r"==4\.9\.3 .*run 'make install'"):  # fmt: skip
        build_mwaa_files(jobs(DBT), tmp_path / "out", wheelhouse=empty)
    changed = tmp_path / "changed"
    changed.mkdir()
    wheel = "apache_airflow_providers_dbt_cloud-4.9.3-py3-none-any.whl"
    shutil.copy(WHEELHOUSE / wheel, changed / wheel)
    with (changed / wheel).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(MwaaFilesError, match=r"is not mwaa/plugins\.txt's"):
        build_mwaa_files(jobs(DBT), tmp_path / "out", wheelhouse=changed)


def test_the_wheelhouse_holds_what_plugins_txt_pins() -> None:
    """make install's download, checked by hash as synth checks it."""
    for pin in plugin_pins().values():
        (wheel,) = [p for p in WHEELHOUSE.glob("*.whl") if p.name.lower().startswith(
            pin.wheel_prefix)]  # fmt: skip
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == pin.sha256


def test_mwaa_gets_the_zip_pinned_by_its_object_version(dev: Synthesized) -> None:
    """dev's customer_ltv runs a dbt Cloud job and a Tableau refresh (configs/jobs)."""
    template = dev.template(dev.stage.orchestration).to_json()
    (mwaa,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::MWAA::Environment"]
    props = mwaa["Properties"]
    assert props["PluginsS3Path"] == "plugins/plugins.zip"
    reader, attribute = props["PluginsS3ObjectVersion"]["Fn::GetAtt"]
    assert attribute == "VersionId"
    assert '"Key":"plugins/plugins.zip"' in template["Resources"][reader]["Properties"]["Create"]
