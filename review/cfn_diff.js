// What CloudFormation would do to each stack, by the library `cdk diff` uses
// (@aws-cdk/cloudformation-diff, pinned in package.json): per resource its change impact from
// the CloudFormation resource specification's replacement rules, the IAM statements and
// security-group rules added and removed, and whether permissions broaden. Statements are also
// given whole (effect, principals, actions, resources), with every statement the old template
// grants, so that the review can say how each added one broadens access.
//
// Reads {"stacks": {name: {"old": template|null, "new": template|null}}} on stdin and writes
// the same keys with the findings as JSON on stdout.
"use strict";
const { fullDiff } = require("@aws-cdk/cloudformation-diff");

function rows(table) {
  // summarize*() returns a header row and then one row per change, with ANSI colours.
  const strip = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, "");
  const [header, ...body] = table.map((row) => row.map(strip));
  return body.map((row) => Object.fromEntries(header.map((h, i) => [h || `col${i}`, row[i]])));
}

function statement(s) {
  return {
    allow: !s.isNegativeStatement,
    principals: s.principals.values,
    actions: s.actions.values,
    resources: s.resources.values,
    notActions: s.actions.not,
    notResources: s.resources.not,
    condition: s.condition === undefined ? null : s.condition,
  };
}

function stackDiff(oldTemplate, newTemplate) {
  const diff = fullDiff(oldTemplate || {}, newTemplate || {});
  // Everything the old template grants: its statements, as additions to an empty template.
  const granted = oldTemplate ? fullDiff({}, oldTemplate).iamChanges.statements.additions : [];
  const resources = [];
  diff.resources.forEachDifference((logicalId, change) => {
    const value = change.newValue || change.oldValue || {};
    resources.push({
      logicalId,
      type: change.resourceType,
      impact: change.changeImpact,
      path: (value.Metadata || {})["aws:cdk:path"] || "",
      properties: Object.keys(change.propertyUpdates || {}),
    });
  });
  return {
    resources,
    permissionsBroadened: diff.permissionsBroadened,
    statementsAdded: diff.iamChanges.statements.additions.map(statement),
    statementsRemoved: diff.iamChanges.statements.removals.map(statement),
    statementsBefore: granted.map(statement),
    iamStatements: rows(diff.iamChanges.summarizeStatements()),
    iamManagedPolicies: rows(diff.iamChanges.summarizeManagedPolicies()),
    securityGroupRules: rows(diff.securityGroupChanges.summarize()),
  };
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { stacks } = JSON.parse(input);
  const out = {};
  for (const [name, pair] of Object.entries(stacks)) {
    out[name] = stackDiff(pair.old, pair.new);
  }
  process.stdout.write(JSON.stringify(out));
});
