// The verify page: checks a proof against a file in the browser, with proof.js, and says
// plainly what it checked, what it trusted and what it could not check.

import { $, h, DIGEST, api, dropZone, explorerURL, fmtBytes, fmtInt, hashFile, preventStrayDrops, timeEl } from "./common.js";
import { MAX_PROOF_SIZE, STEPS, checkProof } from "./proof.js";

const state = {
  docDigest: undefined, // hex SHA-256 of the file, or the pasted digest
  hashing: null, // the file being hashed
  proof: null, // {name, bytes}
  run: 0,
  keys: null, // the promise of {trusted, witnesses}: the keys this server publishes (see publishedKeys)
};

const STEP_TITLES = {
  format: "Proof file",
  digest: "The file",
  entry: "Log entry",
  checkpoint: "Signed checkpoint",
  key: "Log key",
  inclusion: "Inclusion in the log",
  witness: "Witness cosignatures",
  transaction: "Bitcoin transaction",
  block: "Bitcoin block",
  work: "Proof of work",
};

const hash = (s) => h("code", { class: "hash" }, s);

// passedText says what a step that passed established, from the facts verification gathered.
function passedText(step, f) {
  switch (step) {
    case "format":
      return [`The file is a notary proof (notary-proof/v1), ${f.complete ? "complete: it reaches a Bitcoin block" : "pending: it does not reach Bitcoin yet"}.`];
    case "digest":
      return ["Your file's SHA-256 is ", hash(f.digest), ": the digest this proof is about."];
    case "entry":
      return [`Log entry #${fmtInt(f.index)}: the digest, the receive time and a random nonce hash to the leaf `, hash(f.leaf), "."];
    case "checkpoint":
      return ["A checkpoint of the log ", h("b", {}, f.origin), ` (${fmtInt(f.logSize)} entries, root `, hash(f.logRoot),
        ") carries a valid Ed25519 signature by the log key the proof names."];
    case "key":
      if (f.keyTrust === "trusted") return ["The checkpoint is signed by the log key this server publishes, ", hash(f.key), "."];
      if (f.keyTrust === "own") {
        return ["Not compared: no notary's published key was at hand (this page is not served by a notary), so the key the proof names, ",
          hash(f.key), ", was trusted. The signature shows only that whoever holds that key signed."];
      }
      return ["The checkpoint is signed by ", hash(f.key), ", not by the log key this server publishes: the proof comes from another notary, or the key changed. ",
        "Who logged the entry is not established; the proof's time rests on Bitcoin, not on that key."];
    case "inclusion":
      return [`The entry is in that checkpoint's Merkle tree: a path of ${f.pathLength} hash${f.pathLength === 1 ? "" : "es"} leads from its leaf to the signed root.`];
    case "witness":
      return [`The checkpoint is cosigned by ${f.witnesses.length} of the witnesses this server names (${f.witnesses.join(", ")}), ${f.witnessQuorum} required: `,
        "they saw this checkpoint, and would not cosign another history of the log."];
    case "transaction":
      return ["Bitcoin transaction ", hash(f.txid), " commits the checkpoint's root in an OP_RETURN output."];
    case "block":
      return ["The transaction is in the block ", hash(f.blockHash), `: a branch of ${f.branchLength} hash${f.branchLength === 1 ? "" : "es"} leads from its txid to the Merkle root in the block's header.`];
    case "work":
      return [`The block header's hash meets the proof-of-work target its difficulty bits (${f.bits}) state, and that target is within ${f.network}'s limit.`];
  }
  return [];
}

function render(result, docDigest) {
  const section = $("#result");
  section.hidden = false;
  const verdict = $("#verdict"), title = $("#verdict-title"), text = $("#verdict-text");
  const last = result.checks.filter((c) => c.ok).map((c) => c.facts).pop() || {};
  const v = result.verified;
  let kind;
  if (result.valid && v.complete) {
    kind = docDigest ? "valid" : "valid-nofile";
    title.textContent = docDigest ? "Verified" : "The proof is valid";
    text.replaceChildren(
      docDigest ? "This file existed no later than " : "The document with this digest existed no later than ",
      h("b", {}, timeEl(v.blockTime)), `, the time of Bitcoin block ${fmtInt(v.height)}`,
      v.network === "mainnet" ? "." : ` on ${v.network}.`,
      docDigest ? "" : " Add the file to check that it is the one this proof is for.");
  } else if (result.valid) {
    kind = "pending";
    title.textContent = "Pending: logged, not yet in Bitcoin";
    text.replaceChildren("The notary logged this digest at ", timeEl(v.receivedMs),
      ", and a checkpoint signed by its key includes the entry, but no Bitcoin block commits it yet: ",
      "until one does, the proof rests on the notary's signed word alone. ",
      "Get the complete proof once it is anchored: ", h("a", { href: `lookup.html#${v.digest}` }, "look it up"),
      ", or run ", h("code", {}, "notary upgrade"), " on this file.");
  } else if (result.step === "key") {
    kind = "invalid";
    title.textContent = "Not trusted";
    text.replaceChildren("This pending proof is signed by a key this server does not publish. Until a Bitcoin block commits it, ",
      "a pending proof rests on its notary's signature alone, and anyone can make a key: it proves nothing here. ",
      "Check it against the key of the notary that issued it: ", h("code", {}, "notary verify --key KEY proof.json"), ".");
  } else if (result.step === "witness") {
    kind = "invalid";
    title.textContent = "Not cosigned by this server's witnesses";
    text.replaceChildren("This pending proof's checkpoint lacks the cosignatures of the witnesses this server names: ",
      "nothing shows that its log is the one the witnesses saw. A fresh receipt has none yet; ",
      h("a", { href: `lookup.html#${result.proof ? [...result.proof.digest].map((x) => x.toString(16).padStart(2, "0")).join("") : ""}` }, "look it up"),
      " again in a few seconds for a proof in a cosigned checkpoint.");
  } else if (result.unsupported) {
    kind = "unsupported";
    title.textContent = "Cannot check here";
    text.textContent = result.message;
  } else if (result.step === "digest") {
    kind = "invalid";
    title.textContent = "This proof is not for this file";
    text.textContent = "The file's SHA-256 is not the digest the proof is about. A proof is for the exact bytes that were stamped: check that this is the original file, unchanged, and that the proof is its own." +
      (v ? " The proof itself is sound: it is another file's." : "");
  } else {
    kind = "invalid";
    title.textContent = "Does not verify";
    text.textContent = `${STEP_TITLES[result.step]} check failed (the details are below). The proof is damaged or was altered: get it again from where it came from.`;
  }
  verdict.dataset.verdict = kind;
  verdict.dataset.step = result.step || "";
  section.dataset.verdict = kind;
  section.dataset.step = result.step || "";
  section.dataset.stage = result.stage || "";

  // What was checked, step by step, in order.
  const byStep = new Map(result.checks.map((c) => [c.step, c]));
  const broken = result.checks.find((c) => !c.ok && c.step !== "digest"); // the proof's own failure
  const failedAt = broken ? STEPS.indexOf(broken.step) : Infinity;
  const complete = result.proof ? !!result.proof.bitcoin : true;
  const items = [];
  STEPS.forEach((step, i) => {
    const c = byStep.get(step);
    let mark, body;
    if (c && c.ok) {
      mark = step === "key" && c.facts.keyTrust !== "trusted" ? "unknown" : "ok";
      body = passedText(step, c.facts);
    } else if (c) {
      mark = c.unsupported ? "unknown" : "fail"; body = [c.message[0].toUpperCase() + c.message.slice(1) + "."];
    } else if (step === "digest" && docDigest === undefined) {
      mark = "skip";
      body = last.digest ? ["No file given: the proof is about the digest ", hash(last.digest), ". Add the file to check it is yours."] : ["No file given."];
    } else if (step === "witness" && i < failedAt) {
      mark = "skip";
      body = [complete ? "Not required of a complete proof: it rests on Bitcoin." : "Not required: this server names no witnesses."];
    } else if (["transaction", "block", "work"].includes(step) && !complete && i < failedAt) {
      mark = "skip"; body = ["Not in this proof yet: no Bitcoin block commits it."];
    } else {
      mark = "skip"; body = ["Not checked: an earlier check failed."];
    }
    items.push(h("li", { "data-mark": mark, "data-step": step },
      h("span", { class: "mark", "aria-hidden": "true" }, { ok: "✓", fail: "✗", unknown: "?", skip: "–" }[mark]),
      h("div", {}, h("b", {}, STEP_TITLES[step]), h("span", { class: "visually-hidden" },
        { ok: ": passed. ", fail: ": FAILED. ", unknown: ": could not be checked. ", skip: ": not checked. " }[mark]),
      h("span", { class: "visually-hidden" }, " "), h("p", {}, ...body))));
  });
  $("#checks").replaceChildren(...items);

  renderTrusted(result, docDigest);
  renderDetails(result);
}

function renderTrusted(result, docDigest) {
  const v = result.verified, out = [];
  const li = (...kids) => out.push(h("li", {}, ...kids));
  if (result.valid && v.complete) {
    const url = explorerURL(v.network, "block", v.blockHash);
    li(h("b", {}, "Not checked: "), `that block ${fmtInt(v.height)} (`, hash(v.blockHash), `) is in the best ${v.network} chain, `,
      "and that the difficulty its header states is the one the chain required. A page on its own, offline, cannot know that; ",
      "ask a node you run: ", h("code", {}, "notary verify --node URL proof.json file"),
      url ? [", or look the block up on an explorer you trust: ", h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, "mempool.space")] : "",
      ". Until then, the proof shows work was done on a header committing to the file, not that Bitcoin accepted it.");
    if (v.network !== "mainnet") {
      li(h("b", {}, "Test network: "), `this proof is anchored on ${v.network}, not Bitcoin's main network. It shows the mechanism, not a time anyone must accept`,
        v.network === "regtest" || v.network === "simnet" ? ": blocks on a private test chain cost nothing to make." : ".");
    }
    li(h("b", {}, "Time: "), "Bitcoin proves the block's time, ", timeEl(v.blockTime),
      ", which may be up to about two hours off. The receive time in the log, ", timeEl(v.receivedMs), ", is the notary's signed word only.");
  } else if (result.valid) {
    li(h("b", {}, "Trusted: "), "the notary. A pending proof is its signed word: a checkpoint signed by its key includes the entry. ",
      "Nothing outside the notary confirms it until a Bitcoin block commits it.");
  }
  if (result.valid) {
    const keyItem = {
      trusted: [h("b", {}, "Compared: "), "the log key ", hash(v.key), " is the one this server publishes. ",
        h("span", { class: "good", "data-key": "same" }, "This server publishes the same key.")],
      untrusted: [h("b", {}, "Not trusted: "), "the log key ", hash(v.key), ". ",
        h("span", { class: "bad", "data-key": "different" }, "This server publishes a different key: the proof comes from another notary, or the key changed."),
        " Its time rests on Bitcoin, not on that key."],
      own: [h("b", {}, "Trusted: "), "that ", hash(v.key), " is the notary's log key. ",
        h("span", { "data-key": "own" }, "The proof names its own key, and no notary's published key was at hand to compare with: "),
        "the signatures show only that whoever holds that key signed. Compare it with the key the notary publishes."],
    }[v.keyTrust];
    li(...keyItem);
  }
  if (docDigest === undefined && result.valid) {
    li(h("b", {}, "Not checked: "), "that you hold the file. Choose it above: it is hashed here, not sent.");
  }
  li(h("b", {}, "Done in this page: "), "every check above ran in this browser, offline: SHA-256 in the page's own code, Ed25519 signatures by the browser's WebCrypto. Neither the file nor the proof was sent anywhere.");
  $("#trusted").replaceChildren(...out);
}

// publishedKeys returns what this server publishes (GET /v1/keys): trusted, its log key as
// the list of keys the page trusts, or null when the page is not served by a notary (it
// then trusts the key the proof names, and says so); and witnesses, {keys, quorum} of the
// witnesses it names, or null if none.
async function publishedKeys() {
  if (!location.protocol.startsWith("http")) return { trusted: null, witnesses: null };
  try {
    const keys = await api("v1/keys");
    const witnesses = keys.witness_keys && keys.witness_keys.length > 0 ? { keys: keys.witness_keys, quorum: keys.witness_quorum } : null;
    return { trusted: keys.log_key ? [keys.log_key] : null, witnesses };
  } catch {
    return { trusted: null, witnesses: null }; // a server without /v1/keys: nothing to compare with
  }
}

function renderDetails(result) {
  const p = result.proof, v = result.verified, rows = [];
  const row = (k, ...d) => rows.push(h("dt", {}, k), h("dd", {}, ...d));
  $("#details-box").hidden = !p;
  if (!p) return;
  const toHex = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  row("Digest (SHA-256)", hash(toHex(p.digest)));
  row("Log entry", `#${p.entry.index}, received `, timeEl(p.entry.received_ms));
  row("Log key", hash(p.log.key));
  if (v) row("Checkpoint", `${v.origin}, ${fmtInt(v.logSize)} entries, root `, hash(v.logRoot));
  row("Inclusion path", `${p.log.inclusion.length} hashes`);
  if (p.bitcoin) {
    row("Network", p.bitcoin.network);
    if (v && v.txid) row("Transaction", hash(v.txid), ` (${p.bitcoin.tx.length} bytes, position ${p.bitcoin.tx_index} in its block)`);
    if (v && v.blockHash) row("Block", `height ${fmtInt(p.bitcoin.height)}, `, hash(v.blockHash));
    if (v && v.blockTime) row("Block time", timeEl(v.blockTime));
  }
  if (p.service) row("Issued by", p.service);
  $("#details").replaceChildren(...rows);
}

async function run() {
  const id = ++state.run;
  if (!state.proof) return;
  if (state.hashing) return; // run again once the file is hashed
  state.keys ||= publishedKeys();
  const { trusted, witnesses } = await state.keys;
  const result = await checkProof(state.proof.bytes, state.docDigest, trusted, witnesses);
  if (id !== state.run) return;
  render(result, state.docDigest);
  $("#result").dataset.proof = state.proof.name;
  $("#result").dataset.doc = state.docDigest || "";
}

// ---- inputs -----------------------------------------------------------------------------

async function takeDoc(file) {
  const info = $("#doc-info");
  $("#digest").value = "";
  state.docDigest = undefined;
  state.hashing = file;
  const bar = h("progress", { max: 1, value: 0, "aria-label": `Hashing ${file.name}` });
  info.replaceChildren(h("span", { class: "name" }, file.name), ` ${fmtBytes(file.size)} `, bar);
  try {
    const d = await hashFile(file, (done, total) => { bar.value = total ? done / total : 1; });
    if (state.hashing !== file) return;
    state.docDigest = d;
    info.replaceChildren(h("span", { class: "name" }, file.name), ` ${fmtBytes(file.size)}`, h("br"), "SHA-256 ", hash(d));
    info.dataset.digest = d;
  } catch (e) {
    if (state.hashing !== file) return;
    info.replaceChildren(h("span", { class: "error" }, e.message));
  }
  state.hashing = null;
  run();
}

async function takeProof(file) {
  const info = $("#proof-info");
  try {
    // Never more than a proof can be: a large file is refused by size, without reading it all.
    const bytes = new Uint8Array(await file.slice(0, MAX_PROOF_SIZE + 1).arrayBuffer());
    state.proof = { name: file.name, bytes };
    info.replaceChildren(h("span", { class: "name" }, file.name), ` ${fmtBytes(file.size)}`);
  } catch (e) {
    state.proof = null;
    info.replaceChildren(h("span", { class: "error" }, `could not read ${file.name}: ${e.message}`));
  }
  run();
}

preventStrayDrops();
const docInput = $("#doc"), proofInput = $("#proof");
// Each input is emptied once read, so that choosing the same file again reads it again.
docInput.addEventListener("change", () => { if (docInput.files[0]) takeDoc(docInput.files[0]); docInput.value = ""; });
proofInput.addEventListener("change", () => { if (proofInput.files[0]) takeProof(proofInput.files[0]); proofInput.value = ""; });
dropZone($("#pick-doc"), (files) => takeDropped(files, "doc"));
dropZone($("#pick-proof"), (files) => takeDropped(files, "proof"));

// takeDropped sorts dropped files: a proof by its name, the other as the file.
function takeDropped(files, zone) {
  const isProof = (f) => /\.(json|ots)$/i.test(f.name);
  if (files.length === 1) {
    (zone === "proof" ? takeProof : takeDoc)(files[0]);
    return;
  }
  const proof = files.find(isProof), doc = files.find((f) => f !== proof);
  if (proof) takeProof(proof);
  if (doc) takeDoc(doc);
}

$("#digest").addEventListener("input", (e) => {
  const v = e.target.value.trim().toLowerCase();
  const valid = DIGEST.test(v);
  e.target.setAttribute("aria-invalid", String(v !== "" && !valid));
  if (!valid && v !== "") return;
  state.hashing = null;
  state.docDigest = valid ? v : undefined;
  delete $("#doc-info").dataset.digest;
  $("#doc-info").replaceChildren();
  run();
});
$("#verify-form").addEventListener("submit", (e) => e.preventDefault());
