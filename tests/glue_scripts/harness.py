"""One Glue script run as Glue's driver runs it, in this process or in one on another Spark line.

Light on purpose (no CDK, no Airflow): `conftest.run_as_glue` uses it in the test process, and a
job whose Glue version runs another Spark line than the test process (Glue 6.x: Spark 4.1; the
test process: PySpark 3.5.6) is run by this module in a child process whose PYTHONPATH starts
with that line's pyspark (`glueflow_local/spark.py`):

    python -m tests.glue_scripts.harness <spec.json> <result.json>

The child runs the same `run_script` and writes what the run left as JSON. The validation
report goes through boto3 to the moto server the test process started (AWS_ENDPOINT_URL), as
on Glue it goes to S3.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN = REPO_ROOT / "glueflow_local" / "standin"
# Packages a run imports from its own sys.path (the stand-in, the shipped zip), not the test's.
RUN_PACKAGES = ("awsglue", "glueflow_glue", "glueflow_runtime")
S3_ROOT_VARIABLE = "AWSGLUE_STANDIN_S3_ROOT"  # glueflow_local/standin/awsglue/context.py
CHILD_TIMEOUT_S = 600


def spark_session() -> Any:
    """The tests' local SparkSession: one core, no UI, UTC."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName("glueflow-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def pyspark_version() -> str:
    import pyspark

    return pyspark.__version__


# --- S3, staged locally -------------------------------------------------------------------


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


class LocalS3:
    """The test-only staging of S3 the stand-in GlueContext mounts: `<root>/<bucket>/<key>`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        return self.root / bucket / key

    def create_bucket(self, name: str) -> None:
        (self.root / name).mkdir(exist_ok=True)

    def put(self, uri: str, text: str) -> Path:
        target = self.path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def folders(self, uri: str) -> list[str]:
        """The sub-folders (partitions) under a prefix."""
        return sorted(p.name for p in self.path(uri).iterdir() if p.is_dir())


# --- One Glue run -------------------------------------------------------------------------


@contextmanager
def glue_process(argv: list[str], extra_py_files: list[Path], s3_root: Path) -> Iterator[None]:
    """sys.argv, sys.path and sys.modules as in Glue's driver, restored afterwards: the
    stand-in awsglue and each --extra-py-files entry come first on the path, and the packages
    they hold are imported from there, not from the test's own path."""
    saved_modules = {
        name: module for name, module in sys.modules.items() if name.split(".")[0] in RUN_PACKAGES
    }
    for name in saved_modules:
        del sys.modules[name]
    saved_path, saved_argv = list(sys.path), list(sys.argv)
    sys.path[:0] = [str(STANDIN), *map(str, extra_py_files)]
    sys.argv = list(argv)
    previous_root = _environ_swap(S3_ROOT_VARIABLE, str(s3_root))
    try:
        yield
    finally:
        _environ_swap(S3_ROOT_VARIABLE, previous_root)
        sys.argv, sys.path[:] = saved_argv, saved_path
        for name in [n for n in sys.modules if n.split(".")[0] in RUN_PACKAGES]:
            del sys.modules[name]
        sys.modules.update(saved_modules)


def _environ_swap(name: str, value: str | None) -> str | None:
    previous = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    return previous


class ChildRunError(Exception):
    """The exception a run in a child process raised, as `Type: message`."""


@dataclass
class GlueRun:
    """What a run left behind: its argv, the stand-in Job(s) it created, the error it raised,
    and the pyspark it ran on."""

    argv: list[str]
    job_run_id: str
    jobs: list[Any]
    error: BaseException | None
    imported_from: dict[str, str]  # package -> the file the run imported it from
    pyspark: str

    @property
    def committed(self) -> bool:
        return any(job.committed for job in self.jobs)

    def arguments(self) -> dict[str, str]:
        return dict(zip(self.argv[1::2], self.argv[2::2], strict=True))


def run_script(
    script: Path, argv: list[str], extra_py_files: list[Path], s3: LocalS3, spark: Any
) -> GlueRun:
    """Run `script` as Glue runs it (as __main__), under the stand-in awsglue, in this process."""
    error: BaseException | None = None
    with glue_process(argv, extra_py_files, s3.root):
        from awsglue.context import unstage_s3
        from awsglue.job import Job

        Job.created.clear()
        try:
            runpy.run_path(str(script), run_name="__main__")
        except Exception as exc:  # the run failed: the test decides whether it should have
            error = exc
        finally:
            unstage_s3(spark)
        jobs = list(Job.created)
        imported_from = {
            name: str(getattr(sys.modules.get(name), "__file__", None)) for name in RUN_PACKAGES
        }
    job_run_id = dict(zip(argv[1::2], argv[2::2], strict=True))["--JOB_RUN_ID"]
    return GlueRun(argv, job_run_id, jobs, error, imported_from, pyspark_version())


def run_script_in_child(
    pythonpath: str, script: Path, argv: list[str], extra_py_files: list[Path], s3: LocalS3
) -> GlueRun:
    """`run_script` in a child process with `pythonpath` first: another pyspark line."""
    with tempfile.TemporaryDirectory(prefix="glue-run-") as folder:
        spec, result = Path(folder) / "spec.json", Path(folder) / "result.json"
        spec.write_text(
            json.dumps(
                {
                    "script": str(script),
                    "argv": argv,
                    "extra_py_files": [str(p) for p in extra_py_files],
                    "s3_root": str(s3.root),
                }
            ),
            encoding="utf-8",
        )
        env = {**os.environ, "PYTHONPATH": pythonpath, "SPARK_LOCAL_IP": "127.0.0.1"}
        done = subprocess.run(
            [sys.executable, "-m", "tests.glue_scripts.harness", str(spec), str(result)],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
            check=False,
        )  # fmt: skip
        if done.returncode != 0 or not result.is_file():
            raise AssertionError(f"the child run did not finish:\n{done.stderr[-4000:]}")
        left = json.loads(result.read_text(encoding="utf-8"))
    return GlueRun(
        argv=argv,
        job_run_id=dict(zip(argv[1::2], argv[2::2], strict=True))["--JOB_RUN_ID"],
        jobs=[SimpleNamespace(committed=committed) for committed in left["committed"]],
        error=ChildRunError(left["error"]) if left["error"] else None,
        imported_from=left["imported_from"],
        pyspark=left["pyspark"],
    )


def _child(spec_path: Path, result_path: Path) -> None:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spark = spark_session()
    try:
        run = run_script(
            Path(spec["script"]),
            spec["argv"],
            [Path(p) for p in spec["extra_py_files"]],
            LocalS3(Path(spec["s3_root"])),
            spark,
        )
    finally:
        spark.stop()
    error = None if run.error is None else f"{type(run.error).__name__}: {run.error}"
    result = {
        "committed": [job.committed for job in run.jobs],
        "error": error,
        "imported_from": run.imported_from,
        "pyspark": run.pyspark,
    }
    result_path.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    _child(Path(sys.argv[1]), Path(sys.argv[2]))
