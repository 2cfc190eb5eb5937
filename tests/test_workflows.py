"""The GitHub workflows: what each does, as their YAML says it. zizmor audits them in `make
lint`; here the points the README promises are checked."""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    # PyYAML reads the `on:` key as the boolean True (YAML 1.1).
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(job: dict) -> list[str]:
    return [s.get("run", "") + s.get("uses", "") for s in job["steps"]]


def test_every_action_is_pinned_by_commit() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    _, _, ref = step["uses"].partition("@")
                    assert len(ref) == 40, f"{path.name}: {step['uses']} is not pinned by commit"


def test_tests_run_on_pull_requests_and_main() -> None:
    workflow = load("test.yml")
    assert set(workflow[True]) == {"pull_request", "push"}
    assert workflow[True]["push"]["branches"] == ["main"]
    assert "make test" in steps(workflow["jobs"]["test"])


def test_the_review_edits_one_comment_marked_as_the_review_writes_it() -> None:
    workflow = load("review.yml")
    job = workflow["jobs"]["review"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    run = "\n".join(steps(job))
    assert 'make review BASE="origin/${BASE_REF}" FORMAT=markdown' in run
    assert "--method PATCH" in run  # an existing comment is edited, not added again
    marker = (REPO_ROOT / "review" / "__main__.py").read_text().split('"<!-- ', 1)[1]
    assert f'startswith("<!-- {marker.split(" -->", 1)[0]} -->")' in run


def test_deploy_goes_to_dev_then_prod_through_oidc() -> None:
    workflow = load("deploy.yml")
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    assert prod["needs"] == "dev"
    assert (dev["environment"], prod["environment"]) == ("dev", "prod")
    for job in (dev, prod):
        assert job["permissions"]["id-token"] == "write"
        configure = next(
            s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")
        )
        assert set(configure["with"]) == {"role-to-assume", "aws-region"}  # no stored keys
    assert workflow["permissions"] == {"contents": "read"}
