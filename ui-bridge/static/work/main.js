/* Starts the workspace of the signed-in role, and keeps the duress alarms (هشدار اضطرار) on
 * top of every screen that may see them — except a covert alarm on the team's own screen. */
import { work as W } from "./core.js";
import { mount as callTaker } from "./calltaker.js";
import { mount as dispatcher } from "./dispatcher.js";
import { mount as team } from "./team.js";
import { mount as centre } from "./centre.js";
import { mount as overview } from "./eoc.js";

const w = (k) => W.ui(k);

function alarms(keys) {
  if (!W.touches(keys, "alert/duress/")) return;
  const box = document.getElementById("w-alarms");
  const me = W.state.me;
  if (!me) return;
  let list = W.rows("alert/duress/");
  if (me.role === "team") {
    list = list.filter((a) => a.team_id === me.team && !a.covert);
    box.innerHTML = list.map(() => `<div class="alert alert-danger my-2" id="w-sos-sent">${w("sosSent")}</div>`).join("");
    return;
  }
  const mayClear = ["dispatcher", "provincial_supervisor"].includes(me.role);
  box.innerHTML = list.map((a) => `<div class="alert alert-danger alarm my-2 d-flex justify-content-between align-items-center" data-duress="${W.esc(a.team_id)}">
      <div><strong>${w("duress")}</strong> · <span class="ref">${W.esc(a.team_ref || "")}</span> ${W.esc(a.team || "")}
      ${a.covert ? `<span class="badge bg-dark">${w("covertTag")}</span>` : ""} · ${W.esc(W.I.province(a.province))}
      · <span data-since="${W.esc(a.since)}">${W.since(a.since)}</span>
      ${a.position ? ` · ${w("lastPosition")}: <span dir="ltr" class="duress-position">${W.I.digits(a.position.lat.toFixed(5))}, ${W.I.digits(a.position.lon.toFixed(5))}</span>` : ""}</div>
      ${mayClear ? `<button class="btn btn-light btn-sm" data-clear="${W.esc(a.team_id)}">${w("clear")}</button>` : ""}</div>`).join("");
}
document.getElementById("w-alarms").addEventListener("click", (e) => {
  const b = e.target.closest("[data-clear]");
  if (b) W.command(`/teams/${b.dataset.clear}/duress/clear`, {});
});
W.onChange(alarms);
// each role's workspace; the supervisor's, the national EOC's and the auditor's is the overview
W.start({ call_taker: callTaker, dispatcher, team, centre_staff: centre,
          provincial_supervisor: overview, national_eoc: overview, auditor: overview });
