// What the pages share: talking to the API, hashing files off the main thread, formatting,
// and the card that shows a digest's timestamp as it advances.

import { SHA256, toHex } from "./sha256.js";

export const $ = (sel, root = document) => root.querySelector(sel);

/**
 * h builds an element: h("p", {class: "x"}, "text", child, …). Attributes whose value is
 * null, undefined or false are left out; strings become text nodes (never HTML).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const DIGEST = /^[0-9a-f]{64}$/;

/** APIError is an error answer of the API: {"error": {"code", "message"}}. */
export class APIError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from a Retry-After header
  }
}

/** api fetches a JSON endpoint of this notary (path relative to the site, e.g. "v1/status"). */
export async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { Accept: "application/json", ...(init.headers || {}) } });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: handled below
  }
  if (!res.ok) {
    const e = body && body.error;
    const retryAfter = Number(res.headers.get("Retry-After")) || 0;
    throw new APIError(res.status, e ? e.code : "http_" + res.status, e ? e.message : `the server answered ${res.status} ${res.statusText}`, retryAfter);
  }
  if (body === null) throw new APIError(res.status, "bad_answer", "the server's answer is not JSON");
  return body;
}

export const postJSON = (path, value) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });

export const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  if (signal) signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
});

// ---- hashing ----------------------------------------------------------------------------

/**
 * hashFile returns the hex SHA-256 of a File, read in chunks in a worker so that the page
 * stays responsive and memory bounded whatever the file's size. onProgress(done, total) is
 * called as it goes. If workers are unavailable, it hashes in the page, chunk by chunk.
 */
export function hashFile(file, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    let worker, started = false;
    const inPage = () => hashInPage(file, onProgress).then(resolve, reject);
    try {
      worker = new Worker(new URL("./hash-worker.js", import.meta.url), { type: "module" });
    } catch {
      inPage();
      return;
    }
    worker.onmessage = ({ data }) => {
      started = true;
      if (data.type === "progress") {
        onProgress(data.done, data.total);
        return;
      }
      worker.terminate();
      if (data.type === "done") resolve(data.digest);
      else reject(new Error(`could not read ${file.name}: ${data.message}`));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      if (!started) inPage(); // the worker could not load (e.g. a page opened from disk)
      else reject(new Error(`hashing ${file.name} failed: ${e.message}`));
    };
    worker.postMessage({ file });
  });
}

async function hashInPage(file, onProgress) {
  const chunk = 4 << 20, h = new SHA256();
  for (let off = 0; off < file.size; off += chunk) {
    const buf = new Uint8Array(await file.slice(off, off + chunk).arrayBuffer());
    h.update(buf);
    onProgress(off + buf.length, file.size);
  }
  return toHex(h.digest());
}

// ---- formatting -------------------------------------------------------------------------

export function fmtBytes(n) {
  if (n < 1024) return `${n} byte${n === 1 ? "" : "s"}`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n, u = -1;
  do { v /= 1024; u++; } while (v >= 1024 && u < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** fmtTime formats a Date (or milliseconds) in UTC, to the second: 2026-05-14 10:23:45 UTC. */
export function fmtTime(t) {
  const d = t instanceof Date ? t : new Date(Number(t));
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** fmtLocal formats a Date (or milliseconds) in the reader's time zone. */
export function fmtLocal(t) {
  const d = t instanceof Date ? t : new Date(Number(t));
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "long" });
}

/** timeEl is a <time> element showing t in UTC, followed by the same time in the reader's zone. */
export const timeEl = (t) => {
  const d = t instanceof Date ? t : new Date(Number(t));
  if (Number.isNaN(d.getTime())) return h("span", {}, String(t));
  return h("span", { class: "when" }, h("time", { datetime: d.toISOString() }, fmtTime(d)),
    " ", h("span", { class: "local" }, `(${fmtLocal(d)}, your time)`));
};

/** plural says n things: plural(1, "entry", "entries") is "1 entry", and 2 gives "2 entries". */
export const plural = (n, one, many) => `${fmtInt(n)} ${Number(n) === 1 ? one : many}`;

/**
 * proofFileName is the name a proof downloads under: NAME.proof.json when complete,
 * NAME.pending.proof.json while pending, so that the complete one never overwrites (or is
 * mistaken for) the pending one. NAME is the file's name, or else "sha256-" and the
 * digest's first 16 hexadecimal digits.
 */
export function proofFileName(name, digest, complete) {
  const base = name || `sha256-${digest.slice(0, 16)}`;
  return `${base}${complete ? "" : ".pending"}.proof.json`;
}

/**
 * networkError tells a failed request that never reached the notary (the browser's
 * TypeError "Failed to fetch") from an answer of the notary, and says it in words.
 */
export function describeError(e) {
  if (e instanceof APIError) return e.message;
  if (e && e.name === "TypeError") return "the notary could not be reached (it may be down, or this computer offline)";
  return e && e.message ? e.message : String(e);
}

export function fmtDuration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1).replace(/\.0$/, "")} h`;
  return `${Math.round(seconds / 86400)} days`;
}

export const fmtInt = (n) => Number(n).toLocaleString("en-US").replace(/,/g, "\u202f");

/** explorerURL returns a block explorer's page (kind "tx" or "block") on a public network, or null. */
export function explorerURL(network, kind, id) {
  const base = {
    mainnet: "https://mempool.space/", testnet3: "https://mempool.space/testnet/",
    testnet: "https://mempool.space/testnet/", testnet4: "https://mempool.space/testnet4/",
    signet: "https://mempool.space/signet/",
  }[network];
  return base ? `${base}${kind}/${id}` : null;
}

/** txLink shows a txid, linked to an explorer when the network is a public one. */
export function txLink(network, txid, text = txid) {
  const url = explorerURL(network, "tx", txid);
  const code = h("code", { class: "hash", title: text === txid ? null : txid }, text);
  return url ? h("a", { href: url, rel: "noopener noreferrer", target: "_blank", title: `transaction ${txid} on mempool.space` }, code) : code;
}

/** copyButton copies text to the clipboard. */
export function copyButton(text, label = "Copy") {
  const b = h("button", { type: "button", class: "copy", "aria-label": `${label}: ${text}` }, "Copy");
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = "Copied";
    } catch {
      b.textContent = "Select and copy";
    }
    setTimeout(() => { b.textContent = "Copy"; }, 1500);
  });
  return b;
}

/** announce tells screen readers about a change, through the page's polite live region. */
export function announce(text) {
  const region = $("#announce");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

/** download saves bytes (or text) as a file with the given name. */
export function download(name, data, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---- a timestamp as it advances -----------------------------------------------------------

/**
 * The states a card shows, in order. The API's status is pending, anchored or confirmed;
 * the anchor's own status says where an anchored one is: signed, in the mempool, in a block.
 */
const STATES = {
  hashing: "Hashing",
  submitting: "Sending the digest",
  pending: "Pending",
  signed: "Transaction signed",
  mempool: "Sent to Bitcoin",
  block: "In a block",
  confirmed: "Confirmed",
  error: "Error",
};

export function stateOf(ts) {
  if (ts.status === "confirmed") return "confirmed";
  if (ts.status === "anchored" && ts.anchor) {
    if (ts.anchor.status === "signed") return "signed";
    if (ts.anchor.status === "confirmed" || ts.anchor.status === "final") return "block";
    return "mempool";
  }
  return "pending";
}

const TRACK = [
  ["received", "Received", "signed pending proof"],
  ["mempool", "Anchored", "waiting for a block"],
  ["block", "In a block", "being buried"],
  ["confirmed", "Confirmed", "proof complete"],
];
const TRACK_AT = { pending: 0, signed: 0, mempool: 1, block: 2, confirmed: 3 };

/**
 * Card shows one digest: hashing progress, its log entry, the status as it advances, and the
 * proof's downloads. Its element carries data-state (one of STATES) and data-digest.
 */
export class Card {
  /** network is the service's Bitcoin network, when known: it decides explorer links. */
  static network = null;
  /** nextAnchor is when the service's next anchor is due (a Date), when known. */
  static nextAnchor = null;

  /**
   * @param {{name?: string, size?: number, digest?: string, heading?: string}} what heading is
   * the element of the card's title, "h3" unless given (the look-up page's card is an "h2").
   */
  constructor(what) {
    this.name = what.name || "";
    this.digest = what.digest || "";
    this.ts = null;
    this.proof = null; // the newest proof seen: pending at first, complete once confirmed
    this.badge = h("span", { class: "badge" });
    this.progress = h("progress", { max: 1, value: 0, "aria-label": `Hashing ${this.name}` });
    this.pct = h("span", { class: "pct" }, "0 %");
    this.hashing = h("div", { class: "hashing", hidden: true }, this.progress, this.pct);
    this.facts = h("dl", { class: "facts" });
    this.track = h("ol", { class: "track", "aria-label": "Progress" },
      TRACK.map(([id, title, sub]) => h("li", { "data-step": id }, h("span", { class: "t" }, title), h("span", { class: "s" }, sub))));
    this.track.hidden = true;
    this.message = h("p", { class: "message" });
    this.actions = h("div", { class: "actions" });
    const title = this.name
      ? [h("span", { class: "name" }, this.name), what.size !== undefined ? h("span", { class: "size" }, fmtBytes(what.size)) : null]
      : [h("span", { class: "name" }, "Digest")];
    this.el = h("article", { class: "card", "data-digest": this.digest || null },
      h("div", { class: "head" }, h(what.heading || "h3", {}, title), this.badge),
      this.hashing, this.facts, this.track, this.message, this.actions);
    this.setState(this.digest ? "submitting" : "hashing");
  }

  setState(state) {
    this.state = state;
    this.el.dataset.state = state;
    this.badge.textContent = STATES[state];
    this.badge.dataset.state = state;
    const at = TRACK_AT[state];
    this.track.hidden = at === undefined;
    if (at !== undefined) {
      [...this.track.children].forEach((li, i) => {
        li.dataset.done = String(i <= at);
        if (i === at + 1) li.setAttribute("aria-current", "step");
        else li.removeAttribute("aria-current");
      });
    }
  }

  onProgress(done, total) {
    this.hashing.hidden = false;
    const f = total ? done / total : 1;
    this.progress.value = f;
    this.pct.textContent = `${Math.floor(f * 100)} %`;
  }

  setDigest(digest) {
    this.digest = digest;
    this.el.dataset.digest = digest;
    this.hashing.hidden = true;
    this.setState("submitting");
    this.renderFacts();
  }

  /** fail shows message; with retry, a button that calls it (the card's actions are replaced). */
  fail(message, retry) {
    this.hashing.hidden = true;
    this.setState("error");
    this.message.textContent = message;
    this.message.className = "message error";
    this.message.setAttribute("role", "alert");
    this.actions.replaceChildren(...(retry ? [h("button", { type: "button", class: "primary", "data-action": "retry", onclick: retry }, "Try again")] : []));
  }

  /**
   * update shows an answer about the digest: of its submission (POST /v1/timestamps), of a
   * lookup (GET /v1/timestamps/{digest}), or an item of a batch's receipts. An answer
   * without a proof (a batch item, a lookup before a published checkpoint covers the entry)
   * keeps the proof the card had.
   */
  update(ts) {
    const before = this.state;
    this.ts = ts;
    if (ts.proof) this.proof = ts.proof;
    this.digest = ts.digest;
    this.el.dataset.digest = ts.digest;
    this.setState(stateOf(ts));
    this.renderFacts();
    this.renderMessage();
    this.renderActions();
    if (before !== this.state) announce(`${this.name || "Digest " + ts.digest.slice(0, 12)}: ${STATES[this.state].toLowerCase()}`);
  }

  renderFacts() {
    const ts = this.ts, rows = [];
    const row = (term, ...def) => rows.push(h("dt", {}, term), h("dd", {}, ...def));
    if (this.digest) row("SHA-256", h("code", { class: "hash" }, this.digest));
    if (ts) {
      const origin = this.proof ? this.proof.log.checkpoint.split("\n")[0] : "";
      row("Log entry", `#${fmtInt(ts.index)}${origin ? " in " + origin : ""}`);
      row("Received", timeEl(ts.received_ms), " (the notary's signed word)");
      const a = ts.anchor;
      const bitcoin = this.proof && this.proof.bitcoin;
      if (a) {
        row("Transaction", txLink(bitcoin ? bitcoin.network : Card.network, a.txid));
        if (a.height) row("Block", `height ${fmtInt(a.height)}, ${a.confirmations} confirmation${a.confirmations === 1 ? "" : "s"}`);
      }
      if (bitcoin) {
        const t = u32le(bitcoin.header, 68);
        if (t !== null) row("Existed by", timeEl(t * 1000), " (the block's time)");
      }
    }
    this.facts.replaceChildren(...rows);
  }

  renderMessage() {
    const s = this.state;
    const text = {
      pending: "Logged and signed: the pending proof is ready. It waits for the next anchor, a Bitcoin transaction that commits every digest logged so far.",
      signed: "An anchoring transaction is signed and about to be sent to Bitcoin.",
      mempool: "A Bitcoin transaction commits it; it waits to be put in a block.",
      block: "The anchoring transaction is in a block; the proof is complete once enough blocks are on top.",
      confirmed: this.name
        ? `The proof is complete. Keep ${this.name} exactly as it is, next to its proof: the proof is for these bytes only.`
        : "The proof is complete. Keep the exact file whose digest this is: the proof is for its bytes only.",
    }[s];
    this.message.className = "message";
    this.message.removeAttribute("role");
    this.message.replaceChildren(text || "", ...this.comeBack());
  }

  /**
   * comeBack says, until the proof is complete, when the complete proof should be ready and
   * that the page keeps checking; it links to the look-up page for a later visit.
   */
  comeBack() {
    if (this.state === "confirmed" || !this.ts) return [];
    const out = [" "];
    const next = Card.nextAnchor;
    if (this.state === "pending" && next && next > Date.now()) {
      out.push("The next anchor is due at ", timeEl(next), "; ");
    } else if (this.state === "pending") {
      out.push("The next anchor is due soon; ");
    }
    out.push(Card.network === "mainnet" || !Card.network
      ? "a Bitcoin block then takes about ten minutes, and the proof is complete after a few more. "
      : `on ${Card.network} blocks come as the network makes them. `);
    out.push(h("span", { class: "keep-checking" }, "This page keeps checking while it stays open. "));
    if (!location.pathname.endsWith("/lookup.html")) {
      out.push("Or come back for the complete proof later: ", h("a", { href: `lookup.html#${this.digest}` }, "look it up"), " (the link keeps the digest).");
    }
    return out;
  }

  renderActions() {
    const ts = this.ts;
    const base = this.name || `sha256-${ts.digest.slice(0, 16)}`;
    const kids = [];
    if (this.proof) {
      const complete = !!this.proof.bitcoin;
      const name = proofFileName(this.name, ts.digest, complete);
      kids.push(h("button", {
        type: "button", class: complete ? "primary" : "", "data-action": "proof", "data-name": name,
        onclick: () => download(name, JSON.stringify(this.proof, null, 2) + "\n", "application/json"),
      }, complete ? "Download proof (.json)" : "Download pending proof (.json)"));
    }
    // The .ots is fetched, then saved under the file's name (a plain link would take the
    // server's name for it, the digest).
    kids.push(h("button", {
      type: "button", "data-action": "ots",
      onclick: async (e) => {
        try {
          const res = await fetch(`v1/timestamps/${ts.digest}.ots`);
          if (!res.ok) throw new Error(`the server answered ${res.status}`);
          download(`${base}.ots`, await res.arrayBuffer());
        } catch (err) {
          e.target.textContent = `Could not get the .ots: ${err.message}`;
        }
      },
    }, ts.status === "confirmed" ? "Download .ots" : "Download pending .ots"));
    if (!location.pathname.endsWith("/lookup.html")) {
      kids.push(h("a", { href: `lookup.html#${ts.digest}`, class: "more" }, "Look up later"));
    }
    this.actions.replaceChildren(...kids);
  }
}

function u32le(hex, at) {
  if (typeof hex !== "string" || hex.length < 2 * (at + 4)) return null;
  let v = 0;
  for (let i = 3; i >= 0; i--) v = v * 256 + parseInt(hex.substr(2 * (at + i), 2), 16);
  return v;
}

let following = 0; // cards being followed: the more there are, the less often each asks

/**
 * follow keeps card up to date with GET /v1/timestamps/{digest} until the proof is complete
 * or signal aborts. While pending, once the card has a pending proof to download, it
 * long-polls (?wait=…&since=pending: the server answers when the status changes); once
 * anchored it asks every few seconds (less often when many cards are followed), to show
 * the transaction reach the mempool and a block. A server without long-polling answers at
 * once: the loop never asks more than once a second. Rate limits and network failures make
 * it wait longer.
 */
export async function follow(card, signal) {
  let failures = 0;
  following++;
  try {
    while (!signal || !signal.aborted) {
      const started = Date.now();
      // Long-poll only once the card has a pending proof to download: a submission's answer
      // has one; a batch's has none, and a lookup has one once a published checkpoint
      // covers the entry, about a second after it was logged.
      const q = card.ts && card.ts.status === "pending" && card.proof ? "?wait=25&since=pending" : "";
      let pause = card.ts && card.ts.status === "anchored" ? Math.max(2000, 500 * following) : 1000;
      try {
        const ts = await api(`v1/timestamps/${card.digest}${q}`, { signal });
        failures = 0;
        card.update(ts);
        if (ts.status === "confirmed") return;
      } catch (e) {
        if (signal && signal.aborted) return;
        if (e instanceof APIError && e.status === 404) {
          card.fail(e.message);
          return;
        }
        failures++;
        if (e instanceof APIError && e.retryAfter) pause = Math.max(pause, e.retryAfter * 1000);
        card.message.className = "message error";
        card.message.textContent = e instanceof APIError && e.status === 429
          ? "The notary asks to slow down; trying again shortly."
          : `Could not check on this stamp: ${describeError(e)}. Trying again; the stamp itself is safe.`;
      }
      await sleep(Math.max(pause - (Date.now() - started), 0) + Math.min(failures, 10) * 1000, signal);
    }
  } finally {
    following--;
  }
}

/**
 * learnService sets Card.network and Card.nextAnchor from /v1/status, if the server has it,
 * and keeps the next anchor's time current while the page is open.
 */
export async function learnService() {
  try {
    const s = await api("v1/status");
    Card.network = s.network || null;
    Card.nextAnchor = s.next_anchor && !Number.isNaN(Date.parse(s.next_anchor)) ? new Date(s.next_anchor) : null;
  } catch {
    // no status: the cards say less about when to come back
  }
  setTimeout(learnService, 30_000);
}

/** preventStrayDrops stops the browser from opening a file dropped outside a drop zone. */
export function preventStrayDrops() {
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (e) => {
      if (!e.defaultPrevented) e.preventDefault();
    });
  }
}

/** dropZone makes el accept dropped files; it shows that a drag is over it. */
export function dropZone(el, onFiles) {
  let depth = 0;
  el.addEventListener("dragenter", (e) => { e.preventDefault(); depth++; el.classList.add("over"); });
  el.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; el.classList.remove("over"); } });
  el.addEventListener("dragover", (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; });
  el.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    el.classList.remove("over");
    const files = [...e.dataTransfer.files];
    if (files.length) onFiles(files);
  });
}
