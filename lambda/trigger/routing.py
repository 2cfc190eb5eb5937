"""Which jobs an S3 object starts: the routing table, built from the bundled manifest.

One EventBridge rule per bucket delivers every object created under the prefixes its jobs
use (docs/architecture.md, decision 6); this table picks the jobs. Lookup cost grows with the
number of distinct prefix lengths in a bucket, not with the number of routes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    """A job and the objects that start it: a key prefix, and optionally a suffix and a glob."""

    dag_id: str
    bucket: str
    prefix: str = ""
    suffix: str = ""
    glob: str = ""

    def matches_rest(self, key: str) -> bool:
        """Whether `key` (already known to start with the prefix) fits suffix and glob."""
        if self.suffix and not key.endswith(self.suffix):
            return False
        return not self.glob or fnmatch.fnmatchcase(key, self.glob)


class RoutingTable:
    """Routes by bucket, then by exact key prefix."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._by_bucket: dict[str, dict[str, list[Route]]] = {}
        for route in routes:
            by_prefix = self._by_bucket.setdefault(route.bucket, {})
            by_prefix.setdefault(route.prefix, []).append(route)
        # Per bucket, the prefix lengths to try, so a lookup is one dict probe per length.
        self._lengths = {
            bucket: sorted({len(p) for p in by_prefix})
            for bucket, by_prefix in self._by_bucket.items()
        }
        self.size = sum(len(r) for b in self._by_bucket.values() for r in b.values())

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> RoutingTable:
        """A route per S3-triggered job of the compiled manifest."""
        routes = []
        for job in manifest["jobs"].values():
            trigger = job["trigger"]
            if trigger["type"] == "s3":
                routes.append(
                    Route(
                        dag_id=job["dag_id"],
                        bucket=trigger["bucket"],
                        prefix=trigger.get("prefix") or "",
                        suffix=trigger.get("suffix") or "",
                        glob=trigger.get("glob") or "",
                    )
                )
        return cls(routes)

    def match(self, bucket: str, key: str) -> list[Route]:
        """Every route the object fits, in DAG-id order (overlapping prefixes all match)."""
        by_prefix = self._by_bucket.get(bucket)
        if not by_prefix:
            return []
        found = []
        for length in self._lengths[bucket]:
            if length > len(key):
                break
            for route in by_prefix.get(key[:length], ()):
                if route.matches_rest(key):
                    found.append(route)
        return sorted(found, key=lambda r: r.dag_id)


# --- tables of other deployments (docs/architecture.md, decision 20) ----------------------------


class TableRoutes:
    """Which jobs a Table Published event starts: by the producer's account, name_prefix,
    environment and table, as the manifest's `table` triggers name them."""

    def __init__(self, routes: Mapping[tuple[str, str, str, str], Iterable[str]]) -> None:
        self._routes = {key: sorted(set(dags)) for key, dags in routes.items()}
        self.size = sum(len(d) for d in self._routes.values())

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> TableRoutes:
        """A route per job of the compiled manifest started by another deployment's table."""
        routes: dict[tuple[str, str, str, str], list[str]] = {}
        for job in manifest["jobs"].values():
            trigger = job["trigger"]
            if trigger["type"] == "table":
                key = (trigger["account"], trigger["name_prefix"], trigger["environment"],
                       trigger["table"])  # fmt: skip
                routes.setdefault(key, []).append(job["dag_id"])
        return cls(routes)

    def match(self, account: str, name_prefix: str, environment: str, table: str) -> list[str]:
        """The DAG ids the table's publishing starts, in order; [] when none."""
        return list(self._routes.get((account, name_prefix, environment, table), ()))
