// The status page: the operator's view of the service (GET /v1/status), refreshed every few
// seconds while the page is visible.

import { $, h, APIError, api, copyButton, describeError, fmtDuration, fmtInt, timeEl, txLink } from "./common.js";

const REFRESH = 5000;

const tile = (id, title, ...value) =>
  h("section", { class: "tile", "data-tile": id, "aria-labelledby": `tile-${id}` },
    h("h2", { id: `tile-${id}` }, title), h("div", { class: "value" }, ...value));

const hash = (s) => h("code", { class: "hash" }, s);

// nextAnchor describes when the next anchor is due: a time, or null while an anchor waits
// to be final (the next one commits everything logged meanwhile), or without Bitcoin.
function nextAnchor(n, anchors, hasBitcoin) {
  if (typeof n === "string" && !Number.isNaN(Date.parse(n))) {
    const t = Date.parse(n);
    return [h("span", { class: "big" }, t <= Date.now() ? "due now" : relative(t)), h("br"), timeEl(t)];
  }
  if (!hasBitcoin) return ["no Bitcoin anchoring on this server"];
  const waiting = anchors.find((a) => a.status !== "final");
  if (waiting) return [h("span", { class: "big" }, "after the pending one"), h("br"), "once the pending anchor is final"];
  return ["not scheduled"];
}

function relative(t) {
  const s = (t - Date.now()) / 1000;
  return s >= 0 ? `in ${fmtDuration(s)}` : `${fmtDuration(-s)} ago`;
}

function renderSummary(s, anchors) {
  const cp = s.checkpoint || {};
  const w = s.wallet;
  const tiles = [
    tile("network", "Network", h("span", { class: "big" }, s.network || "none")),
    tile("log", "Log size", h("span", { class: "big" }, fmtInt(s.log_size ?? cp.size ?? 0)), Number(s.log_size ?? cp.size ?? 0) === 1 ? " entry" : " entries",
      s.origin ? [h("br"), s.origin] : null),
    tile("checkpoint", "Latest checkpoint",
      h("span", { class: "big" }, fmtInt(cp.size ?? 0)), Number(cp.size ?? 0) === 1 ? " entry" : " entries",
      typeof cp.age_seconds === "number" ? [h("br"), `signed ${fmtDuration(cp.age_seconds)} ago`] : null,
      cp.root ? [h("br"), "root ", hash(cp.root)] : null),
    tile("node", "Node height", s.node_height === null || s.node_height === undefined
      ? h("span", { class: "big bad" }, "not answering")
      : h("span", { class: "big" }, fmtInt(s.node_height))),
    tile("next", "Next anchor", ...nextAnchor(s.next_anchor, anchors, !!w)),
    tile("wallet", "Wallet", w
      ? [h("span", { class: "big" }, `${(w.balance_sat / 1e8).toFixed(8)} BTC`), h("br"), `${fmtInt(w.balance_sat)} sat, of which `,
        `${fmtInt(w.spendable_sat)} spendable`, h("br"), "address ", hash(w.address), " ", copyButton(w.address, "Copy the address")]
      : "no Bitcoin wallet on this server"),
  ];
  if (s.witnesses) {
    const ws = s.witnesses, failing = ws.witnesses.filter((w) => w.error);
    tiles.push(tile("witnesses", "Witnesses",
      ws.cosigned_size >= 0 ? [h("span", { class: "big" }, fmtInt(ws.cosigned_size)), " entries cosigned"] : h("span", { class: "big bad" }, "none cosigned yet"),
      h("br"), `${fmtInt(ws.witnesses.length)} witness${ws.witnesses.length === 1 ? "" : "es"}, ${fmtInt(ws.quorum)} required`,
      ...failing.map((w) => [h("br"), h("span", { class: "bad", "data-witness": w.name, title: w.error }, `${w.name} failing`)])));
  }
  if (s.webhooks) {
    tiles.push(tile("webhooks", "Webhooks", h("span", { class: "big" }, fmtInt(s.webhooks.pending)), " pending",
      h("br"), `${fmtInt(s.webhooks.failed)} failed`));
  }
  $("#summary").replaceChildren(...tiles);
}

const ANCHOR_STATES = { signed: "signed", mempool: "sent, no block yet", confirmed: "in a block", final: "final" };

function renderAnchors(anchors, network) {
  const body = $("#anchors tbody");
  if (!anchors.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No anchor yet.")));
    return;
  }
  body.replaceChildren(...anchors.map((a) => h("tr", { "data-status": a.status },
    h("td", { "data-label": "Status" }, h("span", { class: "badge", "data-state": a.status === "confirmed" ? "block" : a.status === "final" ? "confirmed" : a.status }, ANCHOR_STATES[a.status] || a.status)),
    h("td", { class: "tx", "data-txid": a.txid || null, "data-label": "Transaction" }, a.txid ? txLink(network, a.txid, `${a.txid.slice(0, 12)}…${a.txid.slice(-12)}`) : "—"),
    h("td", { class: "num", "data-label": "Log size" }, a.log_size !== undefined ? fmtInt(a.log_size) : "—"),
    h("td", { class: "num", "data-label": "Block" }, a.height ? fmtInt(a.height) : "—"),
    h("td", { class: "num", "data-label": "Confirmations" }, a.confirmations !== undefined ? fmtInt(a.confirmations) : "—"),
    h("td", { class: "num", "data-label": "Fee" }, a.fee_sat !== undefined ? `${fmtInt(a.fee_sat)} sat` : "—"),
    h("td", { class: "num", "data-label": "Replaced" }, a.replacements ? fmtInt(a.replacements) : "0"))));
}

async function refresh() {
  const err = $("#status-error");
  try {
    const s = await api("v1/status");
    let anchors = s.anchors;
    if (!Array.isArray(anchors)) anchors = (await api("v1/anchors")).anchors || [];
    renderSummary(s, anchors);
    renderAnchors(anchors, s.network);
    err.hidden = true;
    document.body.dataset.loaded = "true";
    $("#updated").replaceChildren("Updated ", timeEl(new Date()), `; refreshed every ${REFRESH / 1000} s.`);
  } catch (e) {
    err.hidden = false;
    err.textContent = e instanceof APIError && e.status === 404
      ? "This notary does not publish its status (GET /v1/status)."
      : `Could not get the status: ${describeError(e)}. Trying again every ${REFRESH / 1000} s.`;
  }
}

let timer = null;
function schedule() {
  clearTimeout(timer);
  if (!document.hidden) timer = setTimeout(async () => { await refresh(); schedule(); }, REFRESH);
}
document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); schedule(); });
refresh().then(schedule);
