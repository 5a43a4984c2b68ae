// The look-up page: a digest's timestamp, followed until its proof is complete. The digest
// comes from the form, from the page's address (lookup.html#<digest>), or from a file
// hashed here.

import { $, h, APIError, Card, DIGEST, api, describeError, dropZone, fmtBytes, follow, hashFile, learnService, preventStrayDrops } from "./common.js";

let current = null; // {card, abort}
let hashed = null; // {name, digest} of the file last hashed here: its name names the downloads

async function lookUp(digest) {
  if (current) current.abort.abort();
  const abort = new AbortController();
  const card = new Card({ digest, name: hashed && hashed.digest === digest ? hashed.name : "", heading: "h2" });
  current = { card, abort };
  const result = $("#result");
  result.replaceChildren(card.el);
  if (location.hash.slice(1) !== digest) history.replaceState(null, "", `#${digest}`);
  try {
    card.update(await api(`v1/timestamps/${digest}`, { signal: abort.signal }));
  } catch (e) {
    if (abort.signal.aborted) return;
    if (e instanceof APIError && e.status === 404) {
      result.replaceChildren(h("div", { class: "notice", "data-state": "notfound", role: "status" },
        h("h2", {}, "Not stamped here"),
        h("p", {}, "This notary has no entry for the digest ", h("code", { class: "hash" }, digest),
          ". A digest is for exact bytes: if you hashed a file, check that it is the original, unchanged. ",
          "To stamp it now, use the ", h("a", { href: "./" }, "stamp page"), ".")));
      return;
    }
    card.fail(`Could not look the digest up: ${describeError(e)}.`, () => lookUp(digest));
    return;
  }
  follow(card, abort.signal);
}

function submitted(value) {
  const err = $("#lookup-error"), field = $("#digest");
  const digest = value.trim().toLowerCase();
  const ok = DIGEST.test(digest);
  err.hidden = ok;
  err.textContent = ok ? "" : "A SHA-256 digest is 64 hexadecimal characters (0–9, a–f).";
  field.setAttribute("aria-invalid", String(!ok));
  if (ok) lookUp(digest);
  else field.focus();
}

async function takeDoc(file) {
  const info = $("#doc-info");
  const bar = h("progress", { max: 1, value: 0, "aria-label": `Hashing ${file.name}` });
  info.replaceChildren(h("span", { class: "name" }, file.name), ` ${fmtBytes(file.size)} `, bar);
  try {
    const d = await hashFile(file, (done, total) => { bar.value = total ? done / total : 1; });
    info.replaceChildren(h("span", { class: "name" }, file.name), ` ${fmtBytes(file.size)}: SHA-256 computed here.`);
    $("#digest").value = d;
    hashed = { name: file.name, digest: d };
    submitted(d);
  } catch (e) {
    info.replaceChildren(h("span", { class: "error" }, e.message));
  }
}

preventStrayDrops();
$("#lookup-form").addEventListener("submit", (e) => {
  e.preventDefault();
  submitted($("#digest").value);
});
const docInput = $("#doc");
docInput.addEventListener("change", () => {
  if (docInput.files[0]) takeDoc(docInput.files[0]);
  docInput.value = "";
});
dropZone($("#pick-doc"), (files) => takeDoc(files[0]));

function fromAddress() {
  const d = decodeURIComponent(location.hash.slice(1)).toLowerCase();
  if (DIGEST.test(d) && (!current || current.card.digest !== d)) {
    $("#digest").value = d;
    lookUp(d);
  }
}
window.addEventListener("hashchange", fromAddress);
learnService();
fromAddress();
