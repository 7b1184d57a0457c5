// The case panel of a flag (CaseService through /api/cases/<flag_id>): status, disposition,
// assignee and history for everyone; actions for analysts and admins. provd enforces the roles;
// the panel only hides what a viewer cannot do.
import { api } from "../api.js";
import { card, clear, errorBox, facts, h, statusPill } from "../dom.js";
import * as fmt from "../format.js";

const DISPOSITIONS = ["DISPOSITION_CONFIRMED", "DISPOSITION_FALSE_POSITIVE", "DISPOSITION_LICENSED",
  "DISPOSITION_DUPLICATE"];

function allowed(status, action) {
  switch (action) {
    case "acknowledge": return status === "FLAG_STATUS_OPEN";
    case "escalate": return status === "FLAG_STATUS_OPEN" || status === "FLAG_STATUS_ACKNOWLEDGED";
    case "resolve": return status !== "FLAG_STATUS_RESOLVED";
    case "reopen": return status === "FLAG_STATUS_RESOLVED";
    default: return true;
  }
}

function history(actions) {
  if (!actions || !actions.length) return h("p", { class: "note" }, "No action taken yet.");
  return h("ol", { class: "case-history", id: "case-history" }, [...actions].reverse().map((a) => h("li", {},
    h("strong", {}, a.action), " by ", h("span", { class: "mono" }, a.actor), " · ", fmt.utc(a.time),
    a.from_status !== a.to_status ? h("div", { class: "note" }, `${fmt.status(a.from_status)} → ${fmt.status(a.to_status)}`) : null,
    fmt.disposition(a.disposition) ? h("div", { class: "note" }, `disposition: ${fmt.disposition(a.disposition)}${a.duplicate_of ? ` of ${a.duplicate_of}` : ""}`) : null,
    a.action === "assign" ? h("div", { class: "note" }, a.assignee ? `assigned to ${a.assignee}` : "unassigned") : null,
    a.note ? h("div", {}, a.note) : null)));
}

// Renders into `slot`; `onChanged` runs after a successful action.
export async function renderCase(slot, flagId, ctx, onChanged) {
  let c;
  try {
    c = await api(`/api/cases/${encodeURIComponent(flagId)}`);
  } catch (err) {
    clear(slot).append(card("Case", { id: "case-panel" }, errorBox(err)));
    return;
  }
  const message = h("div", { id: "case-message" });
  const note = h("textarea", { id: "case-note", placeholder: "Note (optional on an action; required for “Add note”)" });
  const disposition = h("select", { id: "case-disposition" },
    DISPOSITIONS.map((d) => h("option", { value: d }, fmt.disposition(d))));
  const duplicateOf = h("input", { type: "text", id: "case-duplicate-of", placeholder: "F-…", size: 10, hidden: true });
  disposition.addEventListener("change", () => { duplicateOf.hidden = disposition.value !== "DISPOSITION_DUPLICATE"; });
  const assignee = h("input", { type: "text", id: "case-assignee", value: c.assignee || "", placeholder: "name; empty: nobody", size: 16 });

  const act = async (action) => {
    const body = { action, note: note.value.trim(), expected_revision: c.revision };
    if (action === "resolve") {
      body.disposition = disposition.value;
      if (disposition.value === "DISPOSITION_DUPLICATE") body.duplicate_of = duplicateOf.value.trim();
    }
    if (action === "assign") body.assignee = assignee.value.trim();
    try {
      await api(`/api/cases/${encodeURIComponent(flagId)}`, { method: "POST", body });
      onChanged();
    } catch (err) {
      clear(message).append(errorBox(err));
    }
  };
  const button = (action, label, cls = "") => h("button", { type: "button", class: cls, "data-action": action,
    disabled: !allowed(c.status, action), onclick: () => act(action) }, label);

  const actions = ctx.canAct ? h("div", { class: "case-actions", id: "case-actions" },
    h("div", { class: "row" }, button("acknowledge", "Acknowledge"), button("escalate", "Escalate"),
      button("reopen", "Reopen", "secondary")),
    h("div", { class: "row" }, "Resolve as", disposition, duplicateOf, button("resolve", "Resolve")),
    h("div", { class: "row" }, "Assign to", assignee, button("assign", "Assign", "secondary")),
    note, h("div", { class: "row" }, button("note", "Add note", "secondary")), message)
    : h("p", { class: "note", id: "case-readonly" },
      `Signed in as a ${fmt.role(ctx.principal.role)}: you can read this case; analysts and admins work it.`);

  clear(slot).append(card("Case", { id: "case-panel" },
    facts([
      ["Status", h("span", { id: "case-status" }, statusPill(c.status))],
      ["Disposition", fmt.disposition(c.disposition) + (c.duplicate_of ? ` of ${c.duplicate_of}` : "")],
      ["Assignee", c.assignee || "–"],
      ["Updated", fmt.utc(c.updated_at)],
    ]), actions, h("h3", {}, "History"), history(c.actions)));
}
