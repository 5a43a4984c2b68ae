// The verify page: checks a proof against a file in the browser, with proof.js, and says
// plainly what it checked, what it trusted and what it could not check.

import { $, h, APIError, DIGEST, api, dropZone, explorerURL, fmtBytes, fmtInt, hashFile, plural, preventStrayDrops, timeEl } from "./common.js";
import { MAX_ANSWER_SIZE, NETWORKS, STEPS, checkProof, fromHex, headerWork } from "./proof.js";
import { attestations } from "./ots.js";
import { toHex } from "./sha256.js";

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
// lead is the verb of plural(n, …) things that lead somewhere.
const lead = (n) => (Number(n) === 1 ? "leads" : "lead");

// passedText says what a step that passed established, from the facts verification gathered.
function passedText(step, f) {
  switch (step) {
    case "format":
      return [`The file is a notary proof${f.envelope ? ", inside the notary's answer about its digest" : ""}, ${f.complete ? "complete: it reaches a Bitcoin block" : "pending: it does not reach Bitcoin yet"}.`];
    case "digest":
      return ["Your file's SHA-256 is ", hash(f.digest), ": the digest this proof is about."];
    case "entry":
      return [`Log entry #${fmtInt(f.index)}: the digest, the receive time and a random nonce hash to the leaf `, hash(f.leaf), "."];
    case "checkpoint":
      return ["A checkpoint of the log ", h("b", {}, f.origin), ` (${plural(f.logSize, "entry", "entries")}) carries a valid signature by the log key the proof names.`];
    case "key":
      if (f.keyTrust === "trusted") return ["The checkpoint is signed by the log key this server publishes, ", hash(f.key), "."];
      if (f.keyTrust === "own") {
        return ["Not compared: no notary's published key was at hand (this page is not served by a notary), so the key the proof names, ",
          hash(f.key), ", was trusted. The signature shows only that whoever holds that key signed."];
      }
      return ["The checkpoint is signed by ", hash(f.key), ", not by the log key this server publishes: the proof comes from another notary, or the key changed. ",
        "Who logged the entry is not established; the proof's time rests on Bitcoin, not on that key."];
    case "inclusion":
      return [`The entry is in the log that checkpoint signs: ${plural(f.pathLength, "hash", "hashes")} ${lead(f.pathLength)} from the entry to the signed root.`];
    case "witness":
      return [`The checkpoint is cosigned by ${f.witnesses.length} of the witnesses this server names (${f.witnesses.join(", ")}), ${f.witnessQuorum} required: `,
        "they saw this checkpoint, and would not cosign another history of the log."];
    case "transaction":
      return ["Bitcoin transaction ", hash(f.txid), " carries the checkpoint's root."];
    case "block":
      return ["The transaction is in the block ", hash(f.blockHash), `: ${plural(f.branchLength, "hash", "hashes")} ${lead(f.branchLength)} from the transaction to the block's header.`];
    case "work":
      return [`The block's header carries the proof of work its difficulty states, within ${f.network}'s limit.`];
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
  if (result.ots) {
    renderOTS(result.ots, result.otsCheck, docDigest);
    return;
  } else if (result.valid && v.complete) {
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
      "Get the complete proof once it is anchored: ",
      location.protocol.startsWith("http") ? [h("a", { href: `lookup.html#${v.digest}` }, "look it up"), ", or run "] : "run ",
      h("code", {}, "notary upgrade"), " on this file.");
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

// checkOTS checks what it can of a well-formed .ots file: the file holds no block header,
// so a Bitcoin attestation is checked against the header of this notary's proof of the same
// digest, when the page is served by a notary that has one. It returns {atts, why} (why:
// what kept it from checking: "none", "offline", "hash", "unknown", "unreachable", "notyet",
// "nomatch", "work"), and when it verified {work, attestation, network, height}.
async function checkOTS(file) {
  const atts = attestations(file.root);
  const out = { atts, why: "" };
  const blocks = atts.filter((a) => a.kind === "bitcoin");
  if (!blocks.length) return { ...out, why: "none" };
  if (!location.protocol.startsWith("http")) return { ...out, why: "offline" };
  if (file.hash !== "sha256") return { ...out, why: "hash" };
  let ts;
  try {
    ts = await api(`v1/timestamps/${file.digest}`);
  } catch (e) {
    return { ...out, why: e instanceof APIError && e.status === 404 ? "unknown" : "unreachable" };
  }
  const b = ts.proof && ts.proof.bitcoin;
  if (!b || typeof b.header !== "string" || !/^[0-9a-f]{160}$/.test(b.header) || !NETWORKS.has(b.network)) return { ...out, why: "notyet" };
  const header = fromHex(b.header);
  const root = toHex(header.subarray(36, 68));
  const match = blocks.find((a) => a.msg && a.height === BigInt(b.height) && toHex(a.msg) === root);
  if (!match) return { ...out, why: "nomatch", height: b.height };
  try {
    out.work = headerWork(header, b.network);
  } catch (e) {
    return { ...out, why: "work", message: e.message };
  }
  return { ...out, attestation: match, network: b.network, height: b.height };
}

// renderOTS shows the verdict on an OpenTimestamps file: damaged (it does not parse, as Go's
// ots.ParseFile would refuse it), not for this file, verified against this notary's header
// of its block, or well formed and to be checked elsewhere, saying how.
function renderOTS(ots, c, docDigest) {
  const section = $("#result"), verdict = $("#verdict"), title = $("#verdict-title"), text = $("#verdict-text");
  const cmd = (s) => h("code", {}, s);
  const f = ots.file;
  let kind, step = "", stage = "";
  const checks = [];
  const check = (stepName, mark, title, ...body) => checks.push(h("li", { "data-mark": mark, "data-step": stepName },
    h("span", { class: "mark", "aria-hidden": "true" }, { ok: "✓", fail: "✗", unknown: "?", skip: "–" }[mark]),
    h("div", {}, h("b", {}, title), h("span", { class: "visually-hidden" },
      { ok: ": passed. ", fail: ": FAILED. ", unknown: ": could not be checked. ", skip: ": not checked. " }[mark]), h("p", {}, ...body))));
  const trusted = [];
  const li = (...kids) => trusted.push(h("li", {}, ...kids));
  const howElse = ["Check it with ", cmd("notary verify --node URL FILE.ots FILE"), " (URL: a Bitcoin node you trust), or with the OpenTimestamps client: ",
    cmd("ots verify FILE.ots"), "."];
  if (!f) {
    kind = "invalid"; step = "format"; stage = "parse";
    title.textContent = "Does not verify";
    text.textContent = `This OpenTimestamps (.ots) file is damaged: ${ots.error.message}. Get it again from where it came from.`;
    check("format", "fail", "Proof file", `Not a well-formed OpenTimestamps file: ${ots.error.message}.`);
  } else {
    check("format", "ok", "Proof file", `An OpenTimestamps file (version 1) of the ${f.hash} digest `, hash(f.digest), ".");
    const forFile = f.hash === "sha256" && docDigest !== undefined;
    if (forFile && docDigest !== f.digest) {
      kind = "invalid"; step = "digest"; stage = "verify";
      title.textContent = "This proof is not for this file";
      text.textContent = "The file's SHA-256 is not the digest this .ots file is about. A proof is for the exact bytes that were stamped: check that this is the original file, unchanged, and that the proof is its own.";
      check("digest", "fail", "The file", "Your file's SHA-256 is ", hash(docDigest), ", not the digest of the proof.");
    } else if (forFile) {
      check("digest", "ok", "The file", "Your file's SHA-256 is ", hash(docDigest), ": the digest this proof is about.");
    } else {
      check("digest", "skip", "The file", "No file given", f.hash === "sha256" ? "." : `: this proof is about a ${f.hash} digest, which this page does not compute.`);
    }
    if (step) {
      // said above
    } else if (c.work) {
      kind = docDigest !== undefined ? "valid" : "valid-nofile";
      title.textContent = docDigest !== undefined ? "Verified" : "The proof is valid";
      text.replaceChildren(docDigest !== undefined ? "This file existed no later than " : "The document with this digest existed no later than ",
        h("b", {}, timeEl(c.work.time)), `, the time of Bitcoin block ${fmtInt(c.height)}`, c.network === "mainnet" ? ". " : ` on ${c.network}. `,
        "An .ots file holds no block header: this one came from this notary, from its own proof of the same digest.");
      check("ots-path", "ok", "Path to Bitcoin", `${plural(c.attestation.path.length, "operation", "operations")} ${lead(c.attestation.path.length)} from the digest to the block's header.`);
      check("ots-header", "ok", "Bitcoin block", "The header of block ", hash(c.work.blockHash), `, height ${fmtInt(c.height)}, from this notary.`);
      check("work", "ok", "Proof of work", `The block's header carries the proof of work its difficulty states, within ${c.network}'s limit.`);
      li(h("b", {}, "Trusted: "), "this notary, for the header of block ", fmtInt(c.height), ". The .ots file leads to that header, and the header carries its proof of work, ",
        "but whether that block is in the best chain is not checked here. ", ...howElse);
    } else {
      kind = "ots";
      title.textContent = "An OpenTimestamps proof: check it with notary or ots";
      const where = c.atts.map((a) => a.kind === "bitcoin" ? `Bitcoin block ${a.height}` : a.kind === "pending" ? `pending at ${a.uri}` : a.kind === "unknown" ? "an attestation of an unknown kind" : `${a.kind} block ${a.height}`);
      const why = {
        none: "It is not in Bitcoin yet: only calendars have it. Once it is, the OpenTimestamps client's ots upgrade completes it.",
        offline: "An .ots file holds no block header, and this page, opened without a notary, has none to check it against.",
        hash: `It is about a ${f.hash} digest; this page checks .ots files of SHA-256 digests only.`,
        unknown: "An .ots file holds no block header, and this notary has no proof of this digest to take it from: it did not stamp it.",
        unreachable: "An .ots file holds no block header, and this notary could not be asked for one.",
        notyet: "An .ots file holds no block header, and this notary's proof of this digest does not reach Bitcoin yet.",
        nomatch: "An .ots file holds no block header, and the block of this notary's proof of the digest is not one this file attests.",
        work: `The header of this notary's proof does not carry its proof of work: ${c.message}.`,
      }[c.why];
      text.replaceChildren("This is a well-formed OpenTimestamps (.ots) file of the ", f.hash, " digest ", hash(f.digest), `, attesting: ${where.join("; ")}. `,
        why, " ", ...howElse);
      check("ots-path", "unknown", "Path to Bitcoin", why);
    }
  }
  verdict.dataset.verdict = kind;
  verdict.dataset.step = step;
  section.dataset.verdict = kind;
  section.dataset.step = step;
  section.dataset.stage = stage;
  $("#checks").replaceChildren(...checks);
  const asked = f && c && !["none", "offline", "hash"].includes(c.why);
  li(h("b", {}, "Done in this page: "), "the .ots file was read and its path computed in this browser. ",
    asked ? "To find the block's header, the digest (never the file, nor the .ots) was sent to this notary." : "Nothing was sent anywhere.");
  $("#trusted").replaceChildren(...trusted);
  $("#details-box").hidden = true;
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
  $("#details-box").querySelector("summary").textContent = "Details: everything in the proof";
  if (!p) return;
  const toHex = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  row("Digest (SHA-256)", hash(toHex(p.digest)));
  row("Log entry", `#${p.entry.index}, received `, timeEl(p.entry.received_ms));
  if (v && v.leaf) row("Leaf hash", hash(v.leaf), " (SHA-256 of the digest, the receive time and a random nonce)");
  row("Log key", hash(p.log.key), " (Ed25519)");
  if (v && v.logRoot) row("Checkpoint", `${v.origin}, ${plural(v.logSize, "entry", "entries")}, Merkle root `, hash(v.logRoot));
  row("Inclusion path", `${plural(p.log.inclusion.length, "hash", "hashes")} of the log's Merkle tree (RFC 9162)`);
  if (p.bitcoin) {
    row("Network", p.bitcoin.network);
    if (v && v.txid) row("Transaction", hash(v.txid), ` (${plural(p.bitcoin.tx.length, "byte", "bytes")}, position ${p.bitcoin.tx_index} in its block); an OP_RETURN output carries the log's root`);
    row("Block branch", `${plural(p.bitcoin.branch.length, "hash", "hashes")} of the block's Merkle tree, from the transaction to the header's Merkle root`);
    if (v && v.blockHash) row("Block", `height ${fmtInt(p.bitcoin.height)}, `, hash(v.blockHash));
    if (v && v.bits) row("Difficulty bits", h("code", {}, v.bits), " (the header's proof-of-work target)");
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
  if (result.ots && result.ots.file) result.otsCheck = await checkOTS(result.ots.file);
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
    const bytes = new Uint8Array(await file.slice(0, MAX_ANSWER_SIZE + 1).arrayBuffer());
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
