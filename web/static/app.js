"use strict";
// Hashes files in the browser (the bytes never leave this page), submits the digest and
// follows its status until the proof is complete.

const $ = (id) => document.getElementById(id);

async function sha256File(file, onProgress) {
  // SubtleCrypto has no streaming digest; read in chunks so progress can be shown, then hash.
  const chunk = 16 << 20, parts = [];
  for (let off = 0; off < file.size; off += chunk) {
    parts.push(new Uint8Array(await file.slice(off, off + chunk).arrayBuffer()));
    onProgress(Math.min(1, (off + chunk) / file.size));
  }
  const all = new Uint8Array(file.size);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return hex(await crypto.subtle.digest("SHA-256", all));
}

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

function show(html, isError) {
  $("result").innerHTML = html;
  $("result").classList.toggle("error", !!isError);
}

const escapeHTML = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");

async function stamp(digest, name) {
  const res = await fetch("v1/timestamps", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ digest }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
  follow(digest, name, body);
}

async function follow(digest, name, receipt) {
  for (;;) {
    const res = await fetch("v1/timestamps/" + digest);
    const ts = await res.json();
    if (!res.ok) { show(escapeHTML(ts.error.message), true); return; }
    render(ts, name, receipt);
    if (ts.status === "confirmed") return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function render(ts, name, receipt) {
  const a = ts.anchor;
  let html = `<p>Digest <code>${ts.digest}</code>${name ? " of <b>" + escapeHTML(name) + "</b>" : ""}</p>
    <p>Entry #${receipt.index}, received ${escapeHTML(receipt.received)} — signed receipt from <code>${escapeHTML(receipt.origin)}</code>.</p>
    <p>Status: <span class="status">${escapeHTML(ts.status)}</span>`;
  if (a) html += ` — transaction <code>${escapeHTML(a.txid)}</code>, ${a.confirmations} confirmation(s)`;
  html += "</p>";
  if (ts.proof) {
    const blob = new Blob([JSON.stringify(ts.proof, null, 2) + "\n"], { type: "application/json" });
    const file = (name || ts.digest) + ".proof.json";
    html += `<p><a download="${escapeHTML(file)}" href="${URL.createObjectURL(blob)}">Download the ${ts.status === "confirmed" ? "complete" : "pending"} proof</a></p>`;
  }
  show(html);
}

async function onFile(file) {
  const bar = $("progress");
  bar.hidden = false; bar.value = 0;
  try {
    const digest = await sha256File(file, (p) => { bar.value = p; });
    await stamp(digest, file.name);
  } catch (e) { show(escapeHTML(e.message), true); }
  bar.hidden = true;
}

$("file").addEventListener("change", (e) => { if (e.target.files[0]) onFile(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files[0]) onFile(e.dataTransfer.files[0]);
});
$("digest-form").addEventListener("submit", (e) => {
  e.preventDefault();
  stamp($("digest").value.trim().toLowerCase()).catch((err) => show(escapeHTML(err.message), true));
});
