// The stamp page: hash files here (they never leave the page), submit their digests, and
// follow each one from its signed pending proof to a complete proof.

import {
  $, h, APIError, Card, DIGEST, announce, describeError, dropZone, follow, hashFile, learnService, postJSON,
  preventStrayDrops, sleep, timeEl,
} from "./common.js";

const list = $("#stamps");
const queue = [];
let hashing = false;

function addCard(what) {
  const card = new Card(what);
  const li = h("li", {}, card.el);
  list.append(li);
  $("#stamps-section").hidden = false;
  return card;
}

/** stampFiles hashes files one at a time, stamping each as soon as its digest is known. */
function stampFiles(files) {
  for (const file of files) queue.push([file, addCard({ name: file.name, size: file.size })]);
  announce(files.length === 1 ? `Hashing ${files[0].name}` : `Hashing ${files.length} files`);
  pump();
}

async function pump() {
  if (hashing) return;
  hashing = true;
  while (queue.length) {
    const [file, card] = queue.shift();
    try {
      card.setDigest(await hashFile(file, (done, total) => card.onProgress(done, total)));
    } catch (e) {
      card.fail(e.message);
      continue;
    }
    submit(card);
  }
  hashing = false;
}

// post submits one digest; when the notary asks to slow down, it waits and tries again.
async function post(digest) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await postJSON("v1/timestamps", { digest });
    } catch (e) {
      if (!(e instanceof APIError) || e.status !== 429 || attempt >= 10) throw e;
      await sleep(Math.max(e.retryAfter * 1000, 1000 * attempt));
    }
  }
}

/**
 * submit shows the digest's entry and follows it. The answer to POST /v1/timestamps has the
 * entry and its signed pending proof; an item of a batch's receipts (batchItem) has the entry
 * only: the card gets its proof from the lookup, once a published checkpoint covers it.
 */
async function submit(card, batchItem) {
  try {
    card.update(batchItem ? { ...batchItem, status: "pending" } : await post(card.digest));
    remember(card);
    follow(card);
  } catch (e) {
    failed(card, e, () => submit(card));
  }
}

/**
 * failed shows why a digest was not stamped, with a button to try again: the file was
 * hashed already, so a retry sends only its digest.
 */
function failed(card, e, retry) {
  const again = () => {
    card.setState("submitting");
    card.message.textContent = "";
    card.message.className = "message";
    card.message.removeAttribute("role");
    card.actions.replaceChildren();
    retry();
  };
  if (e instanceof APIError) {
    card.fail(`The notary did not take the digest: ${e.message}.`, again);
  } else {
    card.fail("Not stamped: the notary could not be reached. It may be down, or this computer offline. " +
      (card.name ? "The file was hashed here and its digest kept" : "The digest is kept") + ": try again in a moment.", again);
  }
  announce(`${card.name || "Digest"}: not stamped`);
}

/** stampDigests stamps pasted digests: several in one batch request when the server can. */
async function stampDigests(items) {
  const cards = items.map(({ digest, name }) => addCard({ digest, name }));
  let receipts = null;
  if (items.length > 1) {
    try {
      receipts = (await postJSON("v1/timestamps/batch", { digests: items.map((i) => i.digest) })).receipts;
    } catch (e) {
      // A server without the batch endpoint: one request per digest instead.
      if (!(e instanceof APIError) || ![404, 405, 429].includes(e.status)) {
        for (const c of cards) failed(c, e, () => submit(c));
        return;
      }
    }
  }
  cards.forEach((card, i) => submit(card, receipts && receipts[i]));
}

/**
 * parseDigests reads one digest per line; a line may be sha256sum's output ("<hex>  name"),
 * whose file name then labels the stamp. It returns {items} or {error}.
 */
function parseDigests(text) {
  const items = [];
  for (const [n, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const [first, ...rest] = line.split(/\s+/);
    const digest = first.toLowerCase();
    if (!DIGEST.test(digest)) {
      return { error: `Line ${n + 1} does not start with a SHA-256 digest (64 hexadecimal characters): “${line.slice(0, 80)}”.` };
    }
    items.push({ digest, name: rest.join(" ").replace(/^\*/, "") });
  }
  if (!items.length) return { error: "Paste at least one SHA-256 digest (64 hexadecimal characters)." };
  return { items };
}

// ---- stamps remembered in this browser -------------------------------------------------

const STORE = "notary.stamps";

function remembered() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE) || "[]");
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function remember(card) {
  try {
    const list = remembered().filter((s) => s.digest !== card.digest);
    list.unshift({ digest: card.digest, name: card.name, at: Date.now() });
    localStorage.setItem(STORE, JSON.stringify(list.slice(0, 50)));
  } catch {
    // storage may be off: nothing to remember then
  }
}

function showEarlier() {
  const earlier = remembered();
  const box = $("#earlier");
  if (!earlier.length) return;
  $("#earlier-count").textContent = String(earlier.length);
  $("#earlier-list").replaceChildren(...earlier.map((s) => h("li", {},
    h("a", { href: `lookup.html#${s.digest}` }, s.name || h("code", { class: "hash" }, s.digest)),
    " ", h("span", { class: "muted" }, "stamped ", timeEl(s.at)))));
  $("#forget").addEventListener("click", () => {
    localStorage.removeItem(STORE);
    box.hidden = true;
    announce("Forgotten");
  });
  box.hidden = false;
}

// ---- wiring -----------------------------------------------------------------------------

preventStrayDrops();
const input = $("#files");
input.addEventListener("change", () => {
  if (input.files.length) stampFiles([...input.files]);
  input.value = ""; // the same file can be chosen again
});
dropZone($("#drop"), stampFiles);

$("#digest-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const field = $("#digests"), err = $("#digest-error");
  const { items, error } = parseDigests(field.value);
  err.hidden = !error;
  err.textContent = error || "";
  field.setAttribute("aria-invalid", String(!!error));
  if (error) {
    field.focus();
    return;
  }
  field.value = "";
  stampDigests(items);
});

showEarlier();
learnService();
