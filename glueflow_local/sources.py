"""The accounts of the environment's external buckets, on this machine (docs/architecture.md,
decision 19): each used source's own stack, synthesized as its owner synthesizes it
(`make deploy-source SYNTH_ONLY=1`: `app.py` with the `source` context), and its account in
moto, holding the bucket and what that stack (or, for a printed source, `make source-policy`)
puts on it.

A file landed there crosses as on AWS, every hop checked against what ships:
1. S3 sends the Object Created event to its own account's default bus only if the source's
   stack turned EventBridge notifications on (its `Custom::S3BucketNotifications`);
2. the source's forwarding rule must match the event (its pattern, as synthesized);
3. this environment's default bus must let the rule's role put it (its
   `AWS::Events::EventBusPolicy` statements, evaluated by glueflow_local/policy.py);
4. then this account's rules see it, with the source's account, as EventBridge delivers a
   cross-account event ("Sending and receiving events between AWS accounts in Amazon
   EventBridge", EventBridge User Guide).
A job's read of the bucket is checked against the bucket's policy (`check_read`).
The source's KMS key is not modelled: moto's objects are not encrypted with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glueflow_local.errors import LocalRunError
from glueflow_local.policy import Request, decide

if TYPE_CHECKING:
    from glueflow_local.cloud import LocalCloud

REPO_ROOT = Path(__file__).resolve().parent.parent
SYNTH_TIMEOUT_S = 600


@dataclass
class ForwardRule:
    """A rule on the source account's default bus whose target is another account's bus."""

    name: str
    pattern: dict[str, Any]
    target: str  # the bus ARN
    role_arn: str
    matcher: Any = None


@dataclass
class SourceAccount:
    """One external bucket and its account, as its owner deployed them."""

    key: str
    account: str
    bucket: str
    mode: str  # managed or printed
    notifications: bool
    rules: list[ForwardRule] = field(default_factory=list)


def synthesize(env: str, key: str, outdir: Path) -> dict[str, Any]:
    """The source's stack, as `make deploy-source SYNTH_ONLY=1` synthesizes it: app.py with the
    `env` and `source` context, cdk.json's feature flags; its one template."""
    from stacks.cdk_context import project_context

    done = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=SYNTH_TIMEOUT_S, check=False,
        env={**os.environ, "CDK_OUTDIR": str(outdir),
             "CDK_CONTEXT_JSON": json.dumps(project_context(env=env, source=key))},
    )  # fmt: skip
    if done.returncode != 0:
        raise LocalRunError(f"source {key}: its stack did not synthesize: {done.stderr[-800:]}")
    (template,) = sorted(outdir.glob("*.template.json"))
    return json.loads(template.read_text())


def printed_policy(env: str, key: str) -> dict[str, Any] | None:
    """The bucket policy `make source-policy` prints, which a printed source's owner applies."""
    done = subprocess.run(
        [sys.executable, "-m", "stacks.source_side", "--env", env, "--source", key],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise LocalRunError(f"source {key}: make source-policy failed: {done.stderr[-800:]}")
    return json.loads(done.stdout)["bucket_policy"]


class Sources:
    """Every used external bucket's account, provisioned in the local cloud's moto."""

    def __init__(self, cloud: LocalCloud, env: str, manifest: dict[str, Any], workdir: Path):
        self.cloud = cloud
        self.env = env
        self.workdir = workdir
        self.bus_arn = f"arn:aws:events:{cloud.region}:{cloud.account}:event-bus/default"
        declared = manifest["environment"].get("external_buckets", {})
        used = set()
        for job in manifest["jobs"].values():
            used.add((job.get("trigger") or {}).get("bucket") or "")
            used |= {i.get("bucket", "") for i in job.get("inputs", [])}
        self.declared = {k: v for k, v in declared.items() if v["bucket"] in used}
        self.by_bucket: dict[str, SourceAccount] = {}
        self.policies: dict[str, list[dict[str, Any]]] = {}  # bucket -> its policy's statements

    def provision(self) -> None:
        """Each used source's account: its bucket, its stack's notifications, forwarding rule
        and bucket policy (or the printed one, applied as its owner would)."""
        from glueflow_local.cloud import _compile

        for key, declared in sorted(self.declared.items()):
            account, bucket = declared["account"], declared["bucket"]
            template = self._template(key)
            resources = template.get("Resources", {})
            s3 = self.cloud.client("s3", account=account)
            region = self.cloud.region
            config = {"LocationConstraint": region} if region != "us-east-1" else None
            s3.create_bucket(
                Bucket=bucket, **({"CreateBucketConfiguration": config} if config else {})
            )
            managed = [r["Properties"] for r in resources.values()
                       if r["Type"] == "AWS::S3::BucketPolicy"]  # fmt: skip
            policy = managed[0]["PolicyDocument"] if managed else printed_policy(self.env, key)
            # Kept here, not put on moto's bucket: moto checks a bucket policy on object calls
            # but not its conditions (moto/s3/responses.py, `bucket.get_permission`), so the
            # TLS-only Deny, `aws:SecureTransport` false, would refuse every call.
            self.policies[bucket] = (policy or {}).get("Statement", [])
            notifications = any(
                r["Type"] == "Custom::S3BucketNotifications"
                and r["Properties"].get("BucketName") == bucket
                and "EventBridgeConfiguration"
                in r["Properties"].get("NotificationConfiguration", {})
                for r in resources.values()
            )
            source = SourceAccount(key, account, bucket, "managed" if managed else "printed",
                                   notifications)  # fmt: skip
            for resource in resources.values():
                if resource["Type"] != "AWS::Events::Rule":
                    continue
                props = resource["Properties"]
                for target in props.get("Targets", []):
                    role = _role_arn(resources, target.get("RoleArn"), account)
                    source.rules.append(ForwardRule(
                        props.get("Name", ""), props["EventPattern"], target["Arn"], role,
                        _compile(props["EventPattern"]),
                    ))  # fmt: skip
            self.by_bucket[bucket] = source
            self.cloud.timeline.say(
                "setup",
                f"account {account}: bucket {bucket} ({source.mode} policy), "
                f"notifications {'on' if notifications else 'off'}, "
                f"{len(source.rules)} forwarding rule(s) to {self.env}",
            )

    def _template(self, key: str) -> dict[str, Any]:
        """The source's synthesized stack, kept beside the environment's assembly while what
        it is built from is unchanged (each local run of one synth shares it)."""
        from configs.manifest import manifest_path

        inputs = [
            manifest_path(self.cloud.assembly.outdir, self.env),
            REPO_ROOT / "configs" / "environments" / f"{self.env}.yaml",
            REPO_ROOT / "stacks" / "source_stack.py",
            REPO_ROOT / "stacks" / "source_side.py",
        ]
        digest = hashlib.sha256(key.encode())
        for path in inputs:
            digest.update(path.read_bytes() if path.is_file() else b"")
        folder = self.cloud.assembly.outdir / "glueflow-sources" / self.env / key
        stamp = folder / "inputs.sha256"
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            (template,) = sorted(folder.glob("*.template.json"))
            return json.loads(template.read_text())
        shutil.rmtree(folder, ignore_errors=True)
        made = synthesize(self.env, key, folder)
        stamp.write_text(digest.hexdigest())
        return made

    def owns(self, bucket: str) -> SourceAccount | None:
        return self.by_bucket.get(bucket)

    def forward(self, event: dict[str, Any]) -> bool:
        """Whether S3's event for an object of a source's bucket reaches this environment's
        bus: notifications on, a forwarding rule matching, this bus's policy letting its role
        put the event. Each hop is said on the timeline."""
        source = self.by_bucket[event["detail"]["bucket"]["name"]]
        say = self.cloud.timeline.say
        if not source.notifications:
            say("event", f"account {source.account}: EventBridge notifications are off on "
                         f"{source.bucket}: S3 sends no event")  # fmt: skip
            return False
        matched = [r for r in source.rules if r.matcher.matches_event(event)]
        if not matched:
            say("event", f"account {source.account}: Object Created matched no rule there: "
                         "not forwarded, nothing starts")  # fmt: skip
            return False
        for rule in (r for r in matched if r.target == self.bus_arn):
            if self.admits(source.account, rule.name, rule.role_arn, event):
                return True
        return False

    def admits(self, account: str, rule: str, role_arn: str, event: dict[str, Any]) -> bool:
        """Whether this environment's default bus takes `event` from another account's rule
        `rule`, sent as `role_arn`: EventBridge refuses another account's PutEvents unless a
        statement of the bus's policy allows it ("Permissions for event buses in Amazon
        EventBridge"). Said on the timeline either way. S3's forwarded events and another
        deployment's Table Published events (glueflow_local/tables.py) cross here alike."""
        allowed, why = decide(self.bus_statements(), Request(
            role_arn, "events:PutEvents", self.bus_arn,
            {"aws:PrincipalArn": role_arn, "events:source": [event["source"]],
             "events:detail-type": event["detail-type"]},
        ))  # fmt: skip
        say = self.cloud.timeline.say
        if allowed:
            say("event", f"account {account}: rule {rule} forwards it to "
                         f"{self.cloud.account}'s bus as {role_arn} ({why})")  # fmt: skip
        else:
            say("event", f"account {self.cloud.account}'s bus refuses rule {rule}'s event "
                         f"from {role_arn}: {why}")  # fmt: skip
        return allowed

    def bus_statements(self) -> list[dict[str, Any]]:
        """This environment's default bus policy: its templates' statements."""
        return [
            self.cloud.resolve(stack, props["Statement"])
            for stack, _, props in self.cloud.assembly.resources("AWS::Events::EventBusPolicy")
            if props.get("EventBusName", "default") == "default" and props.get("Statement")
        ]

    def check_read(self, role_arn: str, bucket: str, prefix: str, keys: list[str]) -> None:
        """Raise AccessDenied, as S3 would, unless the bucket's policy lets `role_arn` list
        `prefix` and get each key."""
        source = self.by_bucket[bucket]
        statements = self.policies.get(bucket, [])
        context = {"aws:PrincipalArn": role_arn, "aws:SecureTransport": "true"}
        asks = [("s3:ListBucket", f"arn:aws:s3:::{bucket}", {**context, "s3:prefix": prefix})]
        asks += [("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", context) for key in keys]
        for action, resource, keys_in in asks:
            allowed, why = decide(statements, Request(role_arn, action, resource, keys_in))
            if not allowed:
                raise LocalRunError(
                    f"AccessDenied: {role_arn} may not {action} {resource} (account "
                    f"{source.account}'s bucket policy: {why})"
                )


def _role_arn(resources: dict[str, Any], value: Any, account: str) -> str:
    """A target's RoleArn: a literal, or Fn::GetAtt of a role of the template by its name."""
    if isinstance(value, str):
        return value
    logical_id = (value or {}).get("Fn::GetAtt", [""])[0]
    name = resources.get(logical_id, {}).get("Properties", {}).get("RoleName")
    if not isinstance(name, str):
        raise LocalRunError(f"source rule target role {value!r} has no name to resolve")
    return f"arn:aws:iam::{account}:role/{name}"
