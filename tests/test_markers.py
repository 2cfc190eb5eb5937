"""The edit loop's contract, read from what pytest collects (nothing here is timed).

`make test-fast` runs `pytest -m "not slow"`; `make test` and CI run plain `pytest`. So every test
of a slow kind must carry the `slow` mark, and `-m slow` and `-m "not slow"` together must be the
whole suite: no test is lost between the two.

The suite is collected again in this process (`pytest.main --collect-only`): the test modules are
already imported, so a collection costs little.
"""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT, SLOW_FIXTURES

# Whole modules of a slow kind: the end-to-end run, clones that run make, Airflow's processes
# and DAG runs.
SLOW_MODULES = (
    "tests/local/",
    "tests/review/test_review.py",
    "tests/test_clone.py",
    "tests/lambda_trigger/test_api_server.py",
    "tests/dags/test_glue_retry.py",
    "tests/dags/test_dag_runs.py",
)
# Tests of a slow kind in modules with fast ones beside them.
SLOW_TESTS = (
    "tests/stacks/test_sharding.py::test_stacks_stay_within_cloudformation_limits[500-",
    "tests/stacks/test_sharding.py::test_stacks_stay_within_cloudformation_limits[2000-",
    "tests/stacks/test_app.py::test_cdk_cli_synthesizes_offline_without_credentials",
    "tests/dags/test_shipped_folder.py::test_several_synths_into_one_assembly_ship_the_same_folder",
    "tests/dags/test_dagbag.py::test_the_factory_reads_only_the_local_manifest",
    # The shipped trigger handler in fresh interpreters, beyond one run started per event kind.
    "tests/lambda_trigger/test_shipped_bundle.py::test_a_redelivery_asks_for_the_same_run_",
    "tests/lambda_trigger/test_shipped_bundle.py::test_a_malformed_event_is_dead_lettered_",
    "tests/lambda_trigger/test_shipped_bundle.py::test_a_batch_from_the_intake_queue_",
    "tests/lambda_trigger/test_table_published.py::test_a_redelivered_or_reannounced_publish_",
    "tests/lambda_trigger/test_table_published.py::test_a_malformed_table_event_is_dead_",
    "tests/lambda_trigger/test_table_published.py::test_a_table_event_from_the_intake_queue_",
    # Whole apps synthesized for one test, beside the session's dev and prod (tests/synth.py).
    "tests/stacks/test_nag.py::test_an_unacknowledged_finding_fails_synth",
    "tests/stacks/test_app.py::test_jobs_dir_context_reads_another_folder",
    "tests/stacks/test_network.py::test_egress_is_an_explicit_opt_in",
    "tests/stacks/test_network.py::test_existing_vpc_is_used_by_ids_without_lookups",
    "tests/stacks/test_partitions.py::test_no_template_names_an_arn_in_another_partition",
)


class Collected:
    """A plugin that keeps what a session selected: each test's node id, and its fixtures."""

    def __init__(self) -> None:
        self.tests: dict[str, frozenset[str]] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            self.tests[item.nodeid] = frozenset(getattr(item, "fixturenames", ()))


def collect(*args: str) -> dict[str, frozenset[str]]:
    """The tests `pytest ARGS` would run, with their fixtures, by node id."""
    plugin = Collected()
    # No unraisableexception plugin: a collection runs no test, and that plugin's session end
    # runs gc.collect() twice over this process's whole heap (CDK, Airflow): about a second.
    options = ["--collect-only", "-qq", "-p", "no:cacheprovider", "-p", "no:unraisableexception",
               f"--rootdir={REPO_ROOT}"]  # fmt: skip
    code = pytest.main([*options, *args, str(REPO_ROOT / "tests")], plugins=[plugin])
    assert code == pytest.ExitCode.OK, code
    return plugin.tests


@pytest.fixture(scope="module")
def suite() -> dict[str, dict[str, frozenset[str]]]:
    """Every test, the fast set and the slow set."""
    return {
        "all": collect(),
        "fast": collect("-m", "not slow"),
        "slow": collect("-m", "slow"),
    }


def test_fast_and_slow_together_are_the_whole_suite(suite: dict) -> None:
    fast, slow, everything = set(suite["fast"]), set(suite["slow"]), set(suite["all"])
    assert fast
    assert slow
    assert fast & slow == set()
    assert fast | slow == everything


def test_no_test_of_a_slow_kind_is_in_the_fast_set(suite: dict) -> None:
    fast = suite["fast"]
    assert [t for t in fast if t.startswith(SLOW_MODULES)] == []
    assert [t for t in fast if t.startswith(SLOW_TESTS)] == []
    assert {t: f & SLOW_FIXTURES.keys() for t, f in fast.items() if f & SLOW_FIXTURES.keys()} == {}


def test_the_slow_kinds_named_here_still_exist(suite: dict) -> None:
    """So that a renamed module or test cannot slip out of the checks above unnoticed."""
    everything = suite["all"]
    assert [m for m in SLOW_MODULES if not any(t.startswith(m) for t in everything)] == []
    assert [t for t in SLOW_TESTS if not any(n.startswith(t) for n in everything)] == []
    assert [f for f in SLOW_FIXTURES if not any(f in fs for fs in everything.values())] == []
    assert "tests/test_markers.py::test_fast_and_slow_together_are_the_whole_suite" in suite["fast"]
