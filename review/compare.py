"""What a change does to one environment: two synthesized cloud assemblies, compared.

Each side is a cloud assembly directory synthesized for the environment (`python app.py` with
CDK_OUTDIR), with the compiled manifest and `validation-report.json` beside the templates.
CloudFormation's view (which resources are replaced or deleted, which IAM statements and
security-group rules are added or removed, whether permissions broaden) comes from
@aws-cdk/cloudformation-diff, the library `cdk diff` uses (review/cfn_diff.js); the rest reads
the manifests, templates and deployed files.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configs.manifest import manifest_path
from glueflow_local.assembly import CloudAssembly
from review import access, cross_account
from stacks.summary import MAX_RESOURCES, MAX_TEMPLATE_BYTES, stacks_in, started_by, step_graph

CFN_DIFF = Path(__file__).with_name("cfn_diff.js")
NODE = "node"  # the venv's Node 24 (make install), put first on PATH below
ROOT = Path(__file__).resolve().parent.parent
# What a replaced or deleted resource takes with it.
LOST = {
    "AWS::S3::Bucket": "the bucket and every object in it",
    "AWS::Logs::LogGroup": "the log group's history",
    "AWS::Glue::Job": "the job's run history and bookmarks",
    "AWS::Glue::Table": "every published partition: readers see an empty table until each "
    "job publishes again",
    "AWS::Glue::Database": "every table in it, and their published partitions",
    "AWS::MWAA::Environment": "the Airflow environment: tens of minutes without a scheduler, "
    "and its run history",
    "AWS::SQS::Queue": "the messages waiting in the queue",
    "AWS::KMS::Key": "the key: what it encrypted can no longer be read once it is deleted",
    "AWS::SNS::Topic": "the topic's subscriptions",
    "AWS::Lambda::Function": "nothing kept; in-flight events are retried",
    "AWS::EC2::VPC": "the network: every resource in it is recreated",
    "AWS::Events::Rule": "events that arrive while it is recreated",
}
DESTRUCTIVE = {"WILL_REPLACE", "MAY_REPLACE", "WILL_DESTROY", "WILL_ORPHAN"}
NETWORK_TYPES = (
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::NatGateway",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::Route",
)
CODE_PREFIXES = ("dags/", "glue_scripts/")
# aws_cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"
# Under a side's assembly: each external bucket's own stack, synthesized by
# `make deploy-source SYNTH_ONLY=1` (review/__main__.py).
SOURCES = "sources"
# Broadening findings (`broadening`) that the per-principal lines (review/access.py) do not
# carry.
UNSAID_BY_LINES = {"Deny removed", "NotAction or NotResource added", "condition changed"}


@dataclass
class Side:
    """One synthesized side of the change, or an environment that side does not have."""

    assembly_dir: Path | None
    env: str

    def exists(self) -> bool:
        return (
            bool(self.assembly_dir)
            and (self.assembly_dir / f"assembly-{self.env}" / "manifest.json").is_file()
        )

    def assembly(self) -> CloudAssembly | None:
        return CloudAssembly(self.assembly_dir, self.env) if self.exists() else None

    def manifest(self) -> dict[str, Any]:
        if not self.exists():
            return {"jobs": {}, "environment": {}}
        return json.loads(manifest_path(self.assembly_dir, self.env).read_text())

    def templates(self) -> dict[str, dict[str, Any]]:
        found = self.assembly()
        return found.templates if found else {}

    def cross_account(self) -> set[str]:
        """Every cross-account grant this side deploys (review/cross_account.py)."""
        found = self.assembly()
        if found is None:
            return set()
        external = self.manifest()["environment"].get("external_buckets", {})
        buckets = {source["bucket"]: source["account"] for source in external.values()}
        templates, accounts = dict(found.templates), dict(found.accounts)
        for manifest in sorted(self.assembly_dir.glob(f"{SOURCES}/*/manifest.json")):
            for name, artifact in json.loads(manifest.read_text())["artifacts"].items():
                if artifact["type"] != "aws:cloudformation:stack":
                    continue
                template = manifest.parent / artifact["properties"]["templateFile"]
                templates[name] = json.loads(template.read_text())
                accounts[name] = artifact["environment"].removeprefix("aws://").split("/")[0]
        return cross_account.grants(templates, accounts, buckets)

    def acknowledgements(self) -> set[tuple[str, str]]:
        """(rule, construct path) of every finding the synth acknowledged: cdk-nag's, written
        by `Validations.acknowledge` as `aws:cdk:acknowledged-rules` construct metadata, and
        those the assembly's policy-validation report lists as suppressed."""
        found = self.assembly()
        if found is None:
            return set()
        acknowledged = {
            (rule.removeprefix("Annotation::"), path)
            for path, rules in found.metadata(ACKNOWLEDGED_RULES)
            for rule in (rules or {})
        }
        report = self.assembly_dir / "validation-report.json"
        plugins = (
            json.loads(report.read_text()).get("pluginReports", []) if report.is_file() else []
        )
        return acknowledged | {
            (v["ruleName"], c["constructPath"])
            for plugin in plugins
            for v in plugin.get("suppressedViolations", [])
            for c in v.get("violatingConstructs", [])
        }


@dataclass
class Review:
    """The findings for one environment; each list is a section's lines."""

    env: str
    jobs: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    access: list[str] = field(default_factory=list)
    destruction: list[str] = field(default_factory=list)
    shape: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    cost: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    broadened: bool = False
    # The network gains a way out: internet egress turned on.
    network_broadened: bool = False
    # The IAM statements added and removed, one row each, as cloudformation-diff lists them:
    # the Markdown form's collapsed block under Access.
    access_raw: list[str] = field(default_factory=list)

    SECTIONS = ("jobs", "tables", "access", "destruction", "shape", "network", "cost", "code")

    def empty(self) -> bool:
        return not any(getattr(self, s) for s in self.SECTIONS)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf by its path: `outputs[0].prefix`, `glue.workers`; a list of plain values
    (tags, columns' names) stays one value."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def _derived(key: str, changed: list[str]) -> bool:
    """A location's `uri` changed with its own bucket or prefix."""
    base = key.removesuffix(".uri")
    return key.endswith(".uri") and (f"{base}.prefix" in changed or f"{base}.bucket" in changed)


def compare_jobs(base: dict[str, Any], head: dict[str, Any]) -> list[str]:
    """Jobs added, removed and changed (each changed field), and what starts them."""
    lines = []
    started = started_by(head)
    before = started_by(base)
    for name in sorted(set(head) - set(base)):
        glue = head[name]["glue"]
        lines.append(f"added {name}: {glue['workers']} x {glue['worker_type']}, started by "
                     f"{started[name]}")  # fmt: skip
        lines += [f"  {line}" for line in step_graph(head[name])]
    for name in sorted(set(base) - set(head)):
        lines.append(f"removed {name}")
    for name in sorted(set(base) & set(head)):
        old, new = _flatten(base[name]), _flatten(head[name])
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        # A location's `uri` is its bucket and prefix, resolved: said once, by the prefix.
        changed = [k for k in changed if not _derived(k, changed)]
        if not changed:
            continue
        lines.append(f"changed {name}:")
        lines += [f"  {k}: {_show(old.get(k, '(none)'))} -> {_show(new.get(k, '(none)'))}"
                  for k in changed]  # fmt: skip
        if before[name] != started[name]:
            lines.append(f"  started by: {before[name]} -> {started[name]}")
        else:
            lines.append(f"  started by: {started[name]}")
        if base[name]["downstream"] != head[name]["downstream"]:
            lines += [f"  {line}" for line in step_graph(head[name])]
    return lines


def _tables(templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`<database>.<table>` -> (columns, partition keys, location) of every catalog table."""
    found = {}
    for template in templates.values():
        for resource in template.get("Resources", {}).values():
            if resource.get("Type") != "AWS::Glue::Table":
                continue
            props = resource["Properties"]
            table = props["TableInput"]
            name = f"{props['DatabaseName']}.{table['Name']}"
            descriptor = table.get("StorageDescriptor", {})
            found[name] = {
                "columns": {c["Name"]: c["Type"] for c in descriptor.get("Columns", [])},
                "partitions": [f"{k['Name']} {k['Type']}" for k in table.get("PartitionKeys", [])],
                "location": descriptor.get("Location"),
            }
    return found


def moved_outputs(base: dict[str, Any], head: dict[str, Any]) -> dict[str, str]:
    """Each output location a job's config moved (old uri -> new uri): the Jobs section says
    it, and a table's location or an acknowledgement that moves with it is not said again."""
    moved = {}
    for name in set(base) & set(head):
        for old, new in zip(base[name]["outputs"], head[name]["outputs"], strict=False):
            if old.get("uri") and new.get("uri") and old["uri"] != new["uri"]:
                moved[old["uri"]] = new["uri"]
    return moved


def _moved(before: str, after: str, moved: dict[str, str]) -> bool:
    """Whether `before` became `after` only by an output's move (anything under it moves)."""
    for old, new in moved.items():
        for a, b in ((old, new), (_arn(old), _arn(new))):
            if a in before and before.replace(a, b) == after:
                return True
    return False


def _arn(uri: str) -> str:
    """`s3://b/p/` as IAM writes it: `arn:aws:s3:::b/p/`."""
    return "arn:aws:s3:::" + uri.removeprefix("s3://")


def compare_tables(
    base_templates: dict[str, dict[str, Any]],
    head_templates: dict[str, dict[str, Any]],
    moved: dict[str, str] | None = None,
) -> list[str]:
    """The catalog tables' schemas, as readers see them: tables added or removed, columns
    added, removed or retyped, partitioning or location changed (unless the location moved
    with its job's output, which the Jobs section says)."""
    base, head = _tables(base_templates), _tables(head_templates)
    lines = []
    for name in sorted(set(head) - set(base)):
        table = head[name]
        columns = ", ".join(f"{c} {t}" for c, t in table["columns"].items())
        partitions = ", ".join(table["partitions"]) or "none"
        lines.append(f"added {name} ({columns}; partitioned by {partitions})")
    lines += [f"removed {name}: its readers lose it" for name in sorted(set(base) - set(head))]
    for name in sorted(set(base) & set(head)):
        old, new = base[name], head[name]
        changes = [f"  column {c} {t} added" for c, t in new["columns"].items()
                   if c not in old["columns"]]  # fmt: skip
        changes += [
            f"  column {c} {t} removed: readers that select it fail"
            for c, t in old["columns"].items()
            if c not in new["columns"]
        ]
        changes += [
            f"  column {c}: {old['columns'][c]} -> {t} (published files keep the old type)"
            for c, t in new["columns"].items()
            if c in old["columns"] and old["columns"][c] != t
        ]
        if old["partitions"] != new["partitions"]:
            changes.append(
                f"  partitioned by: {', '.join(old['partitions']) or 'none'} -> "
                f"{', '.join(new['partitions']) or 'none'} (published partitions keep the old)"
            )
        if old["location"] != new["location"] and not _moved(
            old["location"] or "", new["location"] or "", moved or {}
        ):
            changes.append(f"  location: {old['location']} -> {new['location']}")
        if changes:
            lines += [f"changed {name}:", *changes]
    return lines


def cfn_diff(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """@aws-cdk/cloudformation-diff's findings per stack (review/cfn_diff.js)."""
    stacks = {
        name: {"old": base.get(name), "new": head.get(name)} for name in set(base) | set(head)
    }
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "NODE_PATH": str(ROOT / "node_modules")}  # fmt: skip
    node = shutil.which("node", path=env["PATH"]) or NODE
    done = subprocess.run(
        [node, str(CFN_DIFF)], input=json.dumps({"stacks": stacks}), capture_output=True,
        text=True, env=env, cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"cloudformation-diff failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _name(resource: dict[str, Any], stack: str) -> str:
    path = resource.get("path") or f"{stack}/{resource['logicalId']}"
    return path.removesuffix("/Resource")


def compare_cfn(
    review: Review,
    diffs: dict[str, Any],
    base_templates: dict[str, dict[str, Any]],
    head_templates: dict[str, dict[str, Any]],
) -> None:
    broadened_by: list[str] = []
    for stack, diff in sorted(diffs.items()):
        for resource in diff["resources"]:
            kind, impact = resource.get("type") or "?", resource.get("impact")
            if impact in DESTRUCTIVE:
                verb = {"WILL_REPLACE": "replaced", "MAY_REPLACE": "may be replaced",
                        "WILL_DESTROY": "deleted", "WILL_ORPHAN": "orphaned"}[impact]  # fmt: skip
                why = (f" (changing {', '.join(resource['properties'])})"
                       if resource["properties"] else "")  # fmt: skip
                lost = LOST.get(kind, "its current state")
                review.destruction.append(
                    f"{_name(resource, stack)} ({kind}) {verb}{why}: loses {lost}"
                )
            if kind in NETWORK_TYPES and impact != "NO_CHANGE":
                review.network.append(f"{_name(resource, stack)} ({kind}): {impact.lower()}")
                if (
                    kind in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway")
                    and (impact == "WILL_CREATE")
                    and not review.network_broadened
                ):
                    review.network_broadened = True
                    review.network.insert(
                        0,
                        "BROADENED: internet egress is being turned on: what runs in the VPC "
                        "can reach any internet host",
                    )
            if kind == "AWS::SecretsManager::Secret" and impact == "WILL_CREATE":
                props = (head_templates.get(stack, {}).get("Resources", {})
                         .get(resource["logicalId"], {}).get("Properties", {}))  # fmt: skip
                if "SecretString" not in props and "GenerateSecretString" not in props:
                    review.access.append(
                        f"new secret {props.get('Name') or _name(resource, stack)}: created "
                        "empty; fill it before the step that uses it first runs (README, "
                        "Connections)"
                    )
        for row in diff["iamStatements"]:
            sign = row.get("col0", "").strip() or "~"
            fields = _fields(row)
            review.access_raw.append(f"{stack}: {'added' if sign == '+' else 'removed'}: {fields}")
        for row in diff["iamManagedPolicies"]:
            fields = _fields(row)
            review.access.append(f"{stack}: managed policy {row.get('col0', '').strip()} {fields}")
        for row in diff["securityGroupRules"]:
            fields = _fields(row)
            review.network.append(f"{stack}: security group rule {row.get('col0', '').strip()} "
                                  f"{fields}")  # fmt: skip
        if diff["permissionsBroadened"]:
            review.broadened = True
        template = head_templates.get(stack) or base_templates.get(stack) or {}
        review.access += access.describe(
            diff["statementsAdded"], diff["statementsRemoved"], diff["statementsBefore"],
            lambda principal, template=template: _principal(principal, template),
        )  # fmt: skip
        # What a line per principal does not say: a Deny removed, a NotAction or NotResource
        # added, a condition changed other than an s3:prefix (which the reads above follow).
        broadened_by += describe_broadening(
            [
                finding
                for finding in broadening(
                    diff["statementsAdded"], diff["statementsRemoved"], diff["statementsBefore"]
                )
                if finding[1] in UNSAID_BY_LINES and finding[2].lower() != "s3:listbucket"
            ],
            template,
        )
    head = ["BROADENED: the change grants permissions it did not grant before"]
    review.access[:0] = [*(head if review.broadened else []), *broadened_by]


def _covers(wide: str, narrow: str) -> bool:
    """Whether an IAM resource pattern grants at least what another does: `*` and `?` as IAM
    reads them, case-sensitive ("IAM JSON policy elements: Resource", IAM User Guide)."""
    return fnmatch.fnmatchcase(narrow, wide.replace("[", "[[]"))


def _covers_action(wide: str, narrow: str) -> bool:
    """The same for actions, which IAM matches case-insensitively ("IAM JSON policy elements:
    Action")."""
    return _covers(wide.lower(), narrow.lower())


def _wild(pattern: str) -> bool:
    """Whether an IAM action or resource has a wildcard: `*` or `?`."""
    return "*" in pattern or "?" in pattern


def _grants(statements: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(principal, action, resource) of every plain Allow statement."""
    return set(_conditions(statements))


def _conditions(statements: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    """The condition (as JSON, "" for none) of each grant of the plain Allow statements."""
    return {
        grant: json.dumps(s["condition"], sort_keys=True) if s["condition"] else ""
        for s in statements
        if s["allow"] and not s["notActions"] and not s["notResources"]
        for grant in itertools.product(
            s["principals"] or ["(no principal)"], s["actions"], s["resources"] or ["*"]
        )
    }


def broadening(
    added: list[dict[str, Any]], removed: list[dict[str, Any]], before: list[dict[str, Any]]
) -> list[tuple[str, str, str, str]]:
    """How the added statements widen access, as (principal, kind, action, resource). Kinds: a
    new principal, a new action, a new resource, a wider resource (`"<old> -> <new>"`, one that
    covers a resource granted before), a wildcard added or removed, a Deny removed, a NotAction
    or NotResource statement added. Grants an old statement already covers are not findings."""
    old = _grants(before)
    principals = {p for p, _, _ in old}
    found: list[tuple[str, str, str, str]] = []
    for principal, action, resource in sorted(_grants(added) - old):
        mine = [(a, r) for p, a, r in old if p == principal]
        if any(_covers_action(a, action) and _covers(r, resource) for a, r in mine):
            continue
        if principal not in principals:
            found.append((principal, "new principal", action, resource))
        elif narrower := sorted(
            {r for a, r in mine if r != resource and _covers(resource, r)},
            key=lambda r: (not _wild(r), r),  # the prefix it replaces before an exact key
        ):
            found.append((principal, "wider resource", action, f"{narrower[0]} -> {resource}"))
        elif not any(_covers_action(a, action) for a, _ in mine):
            found.append((principal, "new action", action, resource))
        else:
            found.append((principal, "new resource", action, resource))
        if _wild(action) or _wild(resource):
            found.append((principal, "wildcard added", action, resource))
    before_conditions = _conditions(before)
    for grant, condition in sorted(_conditions(added).items()):
        if grant in old and before_conditions[grant] != condition:
            was = before_conditions[grant] or "no condition"
            found.append((grant[0], "condition changed", grant[1],
                          f"{grant[2]} when {was} -> {condition or 'always'}"))  # fmt: skip
    for principal, action, resource in sorted(_grants(removed) - _grants(added)):
        if _wild(action) or _wild(resource):
            found.append((principal, "wildcard removed", action, resource))
    for s, kind in [(s, "Deny removed") for s in removed if not s["allow"]] + [
        (s, "NotAction or NotResource added")
        for s in added
        if s["allow"] and (s["notActions"] or s["notResources"])
    ]:
        for principal in s["principals"] or ["(no principal)"]:
            found += [
                (principal, kind, a, r) for a in s["actions"] for r in s["resources"] or ["*"]
            ]
    return found


def describe_broadening(
    findings: list[tuple[str, str, str, str]], template: dict[str, Any]
) -> list[str]:
    """One line per principal and kind of finding, and per resource unless the principal is new:
    `<role path>: <kind>: <actions> on <resources>`."""
    new = {principal for principal, kind, _, _ in findings if kind == "new principal"}
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for principal, kind, action, resource in findings:
        if principal in new and kind != "new principal":
            continue  # a new principal's line says all it is granted
        key = (principal, kind, "" if kind == "new principal" else resource)
        grouped.setdefault(key, []).append(resource if kind == "new principal" else action)
    lines = []
    for (principal, kind, resource), items in grouped.items():
        who = _principal(principal, template)
        if kind == "new principal":
            resources = sorted(set(items), key=items.index)
            shown = ", ".join(_resource(r) for r in resources[:3])
            more = f" and {len(resources) - 3} more" if len(resources) > 3 else ""
            wild = sum(_wild(r) for r in resources)
            lines.append(f"{who}: new principal, granted on {shown}{more}"
                         + (f" ({wild} with a wildcard)" if wild else ""))  # fmt: skip
        else:
            lines.append(f"{who}: {kind}: {', '.join(sorted(set(items)))} on {_resource(resource)}")
    return lines


def _resource(resource: str) -> str:
    """A resource as cloudformation-diff prints it, with a cross-stack output named shortly."""
    return re.sub(
        r'\{"Fn::GetStackOutput":\{"StackName":"([^"]+)",[^}]*"OutputName":"([^"]+)"\}\}',
        r"\2 (output of \1)",
        resource,
    )


def _principal(principal: str, template: dict[str, Any]) -> str:
    """`AWS:${LogicalId}` (how cloudformation-diff names a role) as the role's construct path."""
    match = re.fullmatch(r"AWS:\$\{([A-Za-z0-9]+)(\.Arn)?\}", principal)
    resource = template.get("Resources", {}).get(match.group(1)) if match else None
    if resource is None:
        return principal
    return resource.get("Metadata", {}).get("aws:cdk:path", principal).removesuffix("/Resource")


def _fields(row: dict[str, str]) -> str:
    """A summary row of cloudformation-diff on one line: its cells, whitespace collapsed."""
    return "; ".join(
        f"{k} {' '.join(str(v).replace(chr(10), ' ').split())}"
        for k, v in row.items()
        if k != "col0" and v
    )


def compare_shape(review: Review, base: Side, head: Side) -> None:
    old = {s.name: s for s in (stacks_in(base.assembly_dir, base.env) if base.exists() else [])}
    new = {s.name: s for s in (stacks_in(head.assembly_dir, head.env) if head.exists() else [])}
    for name in sorted(set(new) - set(old)):
        review.shape.append(f"stack added: {name}")
    for name in sorted(set(old) - set(new)):
        review.shape.append(f"stack removed: {name}")
    for name in sorted(set(old) & set(new)):
        a, b = old[name], new[name]
        if (a.resources, round(a.template_bytes / 1024, 1)) != (
            b.resources,
            round(b.template_bytes / 1024, 1),
        ):
            review.shape.append(
                f"{name}: {a.resources} -> {b.resources} resources (of {MAX_RESOURCES}), "
                f"{a.template_bytes / 1024:.1f} -> {b.template_bytes / 1024:.1f} KB "
                f"(of {MAX_TEMPLATE_BYTES // 1000} KB)"
            )
    homes = [_job_stacks(t) for t in (base.templates(), head.templates())]
    for job in sorted(set(homes[0]) & set(homes[1])):
        if homes[0][job] != homes[1][job]:
            review.shape.append(f"job {job} moves from {homes[0][job]} to {homes[1][job]}")


def _job_stacks(templates: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        str(r["Properties"]["Name"]): stack
        for stack, t in templates.items()
        for r in t.get("Resources", {}).values()
        if r["Type"] == "AWS::Glue::Job"
    }


def compare_acknowledgements(
    review: Review, base: Side, head: Side, moved: dict[str, str] | None = None
) -> None:
    """cdk-nag acknowledgements added and removed, a line per construct and direction; one
    that only follows an output's move (its resource under the moved prefix) is not said."""
    old, new = base.acknowledgements(), head.acknowledgements()
    followed = {
        (a, b)
        for a in old - new
        for b in new - old
        if a[1] == b[1] and _moved(a[0], b[0], moved or {})
    }
    old -= {a for a, _ in followed}
    new -= {b for _, b in followed}
    for verb, changed in (("added", new - old), ("removed", old - new)):
        by_path: dict[str, list[str]] = {}
        for rule, path in sorted(changed):
            by_path.setdefault(path, []).append(rule)
        review.network += [f"acknowledgements {verb} on {path}: {', '.join(rules)}"
                           for path, rules in sorted(by_path.items())]  # fmt: skip


def run_estimate(job: dict[str, Any], minutes: int) -> float:
    """What a run of `minutes` costs: workers x DPU per worker x its duration, at the price of
    its execution class (the manifest's, from the environment's `glue_dpu_hour_usd`)."""
    glue = job["glue"]
    return glue["workers"] * glue["dpu_per_worker"] * minutes / 60 * glue["dpu_hour_usd"]


def compare_cost(
    review: Review, base: dict[str, Any], head: dict[str, Any], fixed: tuple[str, str]
) -> None:
    """The fixed monthly cost before and after, and per added or changed job what a run costs
    at its typical duration (when the config gives one) and at its timeout, against its budget."""
    if fixed[0] != fixed[1]:
        review.cost.append(f"fixed monthly: {fixed[0]} -> {fixed[1]}")
    for name, job in sorted(head["jobs"].items()):
        if base["jobs"].get(name) == job:
            continue
        glue = job["glue"]
        budget = job.get("cost_budget_usd")
        size = f"{glue['workers']} x {glue['worker_type']}, {glue['execution_class'].lower()}"
        typical = glue.get("typical_minutes")
        estimates = [(f"typical {typical} min", run_estimate(job, typical))] if typical else []
        estimates.append((f"timeout {glue['timeout_minutes']} min",
                          run_estimate(job, glue["timeout_minutes"])))  # fmt: skip
        priced = "; ".join(f"{cost:.2f} at its {what}" for what, cost in estimates)
        against = f"budget {budget:.2f}" if budget is not None else "no budget"
        over = [what.split()[0] for what, cost in estimates if budget is not None and cost > budget]
        verdict = f" (OVER BUDGET at its {' and '.join(over)})" if over else ""
        review.cost.append(f"{name} per run ({size}): {priced}; {against}{verdict}")


def _files(side: Side, prefix: str, scratch: Path) -> dict[str, str]:
    found = side.assembly()
    if found is None:
        return {}
    try:
        folder = found.deployed_folder(prefix, scratch / prefix.strip("/"))
    except AssertionError:
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def compare_code(review: Review, base: Side, head: Side) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        for prefix in CODE_PREFIXES:
            old = _files(base, prefix, Path(scratch) / "base")
            new = _files(head, prefix, Path(scratch) / "head")
            for path in sorted(set(old) | set(new)):
                if path == "manifest.json":
                    continue  # its meaning is the Jobs section
                if old.get(path) != new.get(path):
                    verb = "added" if path not in old else "removed" if path not in new else (
                        "changed")  # fmt: skip
                    review.code.append(f"{prefix}{path} {verb}")


def review_environment(
    env: str, base: Side, head: Side, fixed_cost: tuple[str, str] = ("", "")
) -> Review:
    review = Review(env)
    base_manifest, head_manifest = base.manifest(), head.manifest()
    if not base.exists():
        review.shape.append(f"environment {env} is new")
    if not head.exists():
        review.shape.append(f"environment {env} is removed")
    review.jobs = compare_jobs(base_manifest["jobs"], head_manifest["jobs"])
    base_templates, head_templates = base.templates(), head.templates()
    moved = moved_outputs(base_manifest["jobs"], head_manifest["jobs"])
    review.tables = compare_tables(base_templates, head_templates, moved)
    compare_cfn(review, cfn_diff(base_templates, head_templates), base_templates, head_templates)
    crossing = cross_account.compare(base.cross_account(), head.cross_account())
    review.access += crossing
    if any(line.startswith("cross-account grant added") for line in crossing):
        review.broadened = True
        if not review.access or not review.access[0].startswith("BROADENED"):
            review.access.insert(
                0, "BROADENED: the change grants permissions it did not grant before"
            )
    compare_shape(review, base, head)
    compare_acknowledgements(review, base, head, moved)
    if head.exists():
        compare_cost(review, base_manifest, head_manifest, fixed_cost)
    compare_code(review, base, head)
    return review
