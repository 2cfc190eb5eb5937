"""The job author's loop on a clone, with the README's commands: `make new-job`, the generated
test passing as generated, then checks filled in and `make try` on a CSV that writes missing
values as NA and NULL, giving the counts per reason.

The clone borrows this checkout's venv (tests/test_clone.py: `make -o .venv/.installed`), so
what runs is the committed tree, as CI has it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_clone import MAKE, borrowing_clone

# Slow, not in `make test-fast`: clones the repository and starts Spark twice.
pytestmark = pytest.mark.slow

JOB = "penguin_checks"
# palmerpenguins' shape: NA for a missing measurement (and one NULL, the other common way).
PENGUINS = """species,island,bill_length_mm,body_mass_g
Adelie,Torgersen,39.1,3750
Adelie,Torgersen,NA,NA
Gentoo,Biscoe,46.1,NA
Chinstrap,Dream,49.9,3800
Gentoo,Biscoe,NULL,4200
"""
CHECKS = """    from pyspark.sql import functions as F

    return [
        ("missing_bill_length", F.col("bill_length_mm").isNull()),
        ("missing_body_mass", F.col("body_mass_g").isNull()),
    ]
"""


def _make(clone: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    return subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_new_job_then_try_gives_the_counts_per_reason(tmp_path: Path) -> None:
    clone = borrowing_clone(tmp_path / "glueflow")

    created = _make(clone, "new-job", f"NAME={JOB}")
    assert created.returncode == 0, created.stderr
    test_file = clone / "tests" / "glue_scripts" / "jobs" / f"test_{JOB}.py"
    assert test_file.is_file()
    # The generated test passes on the scaffold as generated; make test-fast selects it.
    generated = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-m", "not slow",
         "-p", "no:cacheprovider", str(test_file.relative_to(clone))],
        cwd=clone, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout
    assert "1 passed" in generated.stdout

    script = clone / "glue_scripts" / "jobs" / f"{JOB}.py"
    script.write_text(script.read_text().replace("    return []\n", CHECKS, 1))
    sample = tmp_path / "penguins.csv"
    sample.write_text(PENGUINS)
    tried = _make(clone, "try", f"JOB={JOB}", f"FILE={sample}")

    assert tried.returncode == 0, tried.stdout + tried.stderr
    # NA and NULL are missing values (the scaffold's null_values), so they are counted.
    assert "report: 3 of 5 records invalid (missing_bill_length 2, missing_body_mass 2)" in (
        tried.stdout
    )
    assert re.search(r'\{"species":"Gentoo","island":"Biscoe","bill_length_mm":"46.1",'
                     r'"body_mass_g":null\} \(missing_body_mass\)', tried.stdout)  # fmt: skip
    assert "gate: fails, so nothing would be published" in tried.stdout
    assert "threshold 0.0500" in tried.stdout
