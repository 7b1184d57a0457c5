// Links the declared inventory's rows to the reconciliation rules' open flags (issue 10): a flag
// whose rule starts with "hardware_" and whose subject is "accelerator:<serial>" or
// "node:<node_id>". Pure functions (no DOM, no fetch), so the browser test can call them directly.

export const HARDWARE_RULES = ["hardware_relabelled", "hardware_moved", "hardware_cloned_identity",
  "hardware_undeclared", "hardware_silent", "hardware_assignment"];

export function isOpenHardwareFlag(f) {
  return String(f.rule || "").startsWith("hardware_") && f.status !== "FLAG_STATUS_RESOLVED";
}

// subject -> open hardware flags, most severe first.
export function indexBySubject(flags) {
  const rank = (f) => ["SEVERITY_CRITICAL", "SEVERITY_HIGH", "SEVERITY_MEDIUM", "SEVERITY_LOW"].indexOf(f.severity);
  const index = new Map();
  for (const f of flags.filter(isOpenHardwareFlag)) {
    if (!index.has(f.subject)) index.set(f.subject, []);
    index.get(f.subject).push(f);
  }
  for (const list of index.values()) list.sort((a, b) => rank(a) - rank(b));
  return index;
}

// The open flags about one InventoryViewRow: its serial's, then its declared node's and the node
// it was last observed on (each flag once).
export function flagsForRow(index, row) {
  const declared = (row.entry && row.entry.declared) || {};
  const observed = row.last_observed || {};
  const subjects = [`accelerator:${declared.serial}`];
  if (declared.node_id) subjects.push(`node:${declared.node_id}`);
  if (observed.node_id && observed.node_id !== declared.node_id) subjects.push(`node:${observed.node_id}`);
  const seen = new Set();
  const out = [];
  for (const s of subjects) {
    for (const f of index.get(s) || []) {
      if (!seen.has(f.flag_id)) {
        seen.add(f.flag_id);
        out.push(f);
      }
    }
  }
  return out;
}
