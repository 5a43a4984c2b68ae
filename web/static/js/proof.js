// The offline verifier of notary proofs (docs/proof-format.md), as the browser runs it: the
// same checks, in the same order and with the same step names, as notary.Verify in Go. It
// needs no network: SHA-256 is ours (sha256.js), Ed25519 is the browser's WebCrypto.

import { sha256, sha256d, toHex } from "./sha256.js";
import { isOTS, parseOTS } from "./ots.js";

export const FORMAT = "notary-proof/v1";
export const MAX_PROOF_SIZE = 1 << 20;
/** MAX_ANSWER_SIZE is the most a file holding the API's answer about a digest can be. */
export const MAX_ANSWER_SIZE = 2 * MAX_PROOF_SIZE;
const MAX_PATH = 64;
const HEADER_SIZE = 80;
const MAX_TX_SIZE = 100000;
const INT64_MIN = -(1n << 63n), INT64_MAX = (1n << 63n) - 1n;

/**
 * NETWORKS are the networks a proof may name (docs/proof-format.md), each with the easiest
 * proof-of-work target its headers may state (powLimit), as notary.Networks in Go.
 */
export const NETWORKS = new Map([
  ["mainnet", (1n << 224n) - 1n],
  ["testnet3", (1n << 224n) - 1n],
  ["testnet4", (1n << 224n) - 1n],
  ["signet", 0x0377aen << 216n],
  ["regtest", (1n << 255n) - 1n],
  ["simnet", (1n << 255n) - 1n],
]);

/**
 * The steps of verification, in the order they run; a ProofError names the one that
 * failed. "digest" (the file's SHA-256 is the proof's) is the page's own check; the others
 * are notary.Verify's.
 */
export const STEPS = ["format", "digest", "entry", "checkpoint", "key", "inclusion", "witness", "transaction", "block", "work"];

/** ProofError says which step of verification failed and why. */
export class ProofError extends Error {
  /**
   * @param {string} step one of STEPS
   * @param {string} message what is wrong, for people
   * @param {boolean} unsupported the browser cannot do this check (not that the proof is wrong)
   */
  constructor(step, message, unsupported = false) {
    super(message);
    this.step = step;
    this.unsupported = unsupported;
  }
}

const fail = (step, message) => { throw new ProofError(step, message); };

// ---- bytes ----------------------------------------------------------------------------

export function fromHex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

/** reverseHex prints a hash as Bitcoin explorers and nodes do: bytes reversed. */
export const reverseHex = (b) => toHex(Uint8Array.from(b).reverse());

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const utf8 = (s) => new TextEncoder().encode(s);
const contains = (hay, needle) => {
  for (let i = 0; i + needle.length <= hay.length; i++) {
    if (equal(hay.subarray(i, i + needle.length), needle)) return true;
  }
  return false;
};
const u64be = (n) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n));
  return b;
};
const u32le = (b, at) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * base64 decodes standard, padded base64 as Go's base64.StdEncoding does (line breaks
 * ignored); strict also refuses non-zero padding bits, as StdEncoding.Strict() does. It
 * returns null if s is not such base64.
 */
export function base64(s, strict = false) {
  s = s.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0) return null;
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let bits = 0, nbits = 0, at = 0;
  for (let i = 0; i < s.length - pad; i++) {
    const v = B64.indexOf(s[i]);
    if (v < 0) return null;
    bits = ((bits << 6) | v) & 0xffffff;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out[at++] = (bits >> nbits) & 0xff;
    }
  }
  if (strict && (bits & ((1 << nbits) - 1)) !== 0) return null;
  return out;
}

// ---- strict JSON ----------------------------------------------------------------------

// JSONNumber keeps a number's text, so that integers are read exactly (as BigInt).
class JSONNumber {
  constructor(text) { this.text = text; }
}

/**
 * parseJSON parses one JSON value (RFC 8259) strictly: nothing but white space after it,
 * and no object with a key twice (JSON.parse silently keeps the last). Objects become Maps
 * and numbers JSONNumbers.
 */
function parseJSON(text) {
  let i = 0;
  const bad = (what) => { throw new SyntaxError(`${what} at offset ${i}`); };
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const value = (depth) => {
    if (depth > 64) bad("nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const m = new Map();
      ws();
      if (text[i] === "}") { i++; return m; }
      for (;;) {
        ws();
        if (text[i] !== '"') bad("expected a key");
        const k = string();
        if (m.has(k)) bad(`key "${k}" appears twice`);
        ws();
        if (text[i++] !== ":") bad("expected ':'");
        m.set(k, value(depth + 1));
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return m; }
        bad("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const a = [];
      ws();
      if (text[i] === "]") { i++; return a; }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return a; }
        bad("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) { i += word.length; return v; }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) bad(i >= text.length ? "unexpected end of the file" : "unexpected character");
    i += m[0].length;
    return new JSONNumber(m[0]);
  };
  const string = () => {
    i++; // the opening quote
    let s = "";
    for (;;) {
      if (i >= text.length) bad("unexpected end of the file in a string");
      const c = text[i++];
      if (c === '"') return s;
      if (c < " ") bad("control character in a string");
      if (c !== "\\") { s += c; continue; }
      const e = text[i++];
      const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }[e];
      if (simple !== undefined) { s += simple; continue; }
      if (e !== "u" || !/^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) bad("bad escape in a string");
      const u = parseInt(text.slice(i, i + 4), 16);
      i += 4;
      // A surrogate escape must be half of a pair: alone it stands for no character.
      if (u >= 0xdc00 && u <= 0xdfff) bad("an escaped lone surrogate");
      if (u >= 0xd800 && u <= 0xdbff) {
        const low = /^\\u([0-9a-fA-F]{4})/.exec(text.slice(i, i + 6));
        const l = low ? parseInt(low[1], 16) : 0;
        if (l < 0xdc00 || l > 0xdfff) bad("an escaped lone surrogate");
        s += String.fromCharCode(u, l);
        i += 6;
        continue;
      }
      s += String.fromCharCode(u);
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) bad("data after the JSON value");
  return v;
}

// ---- the proof's shape ------------------------------------------------------------------

const HEX32 = /^[0-9a-f]{64}$/;
const HEX = /^(?:[0-9a-f]{2})*$/;

// fields reads the object obj (a Map) of the given schema: {name: [required, read]}. A key
// not in the schema, a missing required field, or a value that read refuses is an error.
function fields(obj, where, schema) {
  if (!(obj instanceof Map)) throw new Error(`${where} must be an object`);
  for (const k of obj.keys()) {
    if (!(k in schema)) throw new Error(`unknown field "${where === "proof" ? "" : where + "."}${k}"`);
  }
  const out = {};
  for (const [name, [required, read]] of Object.entries(schema)) {
    const path = where === "proof" ? name : `${where}.${name}`;
    if (!obj.has(name)) {
      if (required) throw new Error(`field "${path}" is missing`);
      continue;
    }
    out[name] = read(obj.get(name), path);
  }
  return out;
}

const str = (v, path) => {
  if (typeof v !== "string") throw new Error(`field "${path}" must be a string`);
  return v;
};
// SERVICE_URL is the form of a proof's service, as notary's serviceURL in Go: http or https,
// a host name or an IPv6 address in brackets, an optional port, an optional path, query or
// fragment of printable ASCII without spaces.
const SERVICE_URL = /^https?:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?([/?#][\x21-\x7e]*)?$/;
// service is the optional field the Go encoder omits when empty: present means an URL.
const service = (v, path) => {
  if (str(v, path) === "") throw new Error(`field "${path}" is empty (omit it instead)`);
  if (!SERVICE_URL.test(v)) throw new Error(`service "${v}" is not an http or https URL`);
  return v;
};
const int64 = (v, path) => {
  if (!(v instanceof JSONNumber) || !/^-?[0-9]+$/.test(v.text)) throw new Error(`field "${path}" must be an integer`);
  if (v.text === "-0") throw new Error(`field "${path}" is -0`);
  const n = BigInt(v.text);
  if (n < INT64_MIN || n > INT64_MAX) throw new Error(`field "${path}" is out of range`);
  return n;
};
const hexBytes = (v, path) => {
  if (typeof v !== "string" || !HEX.test(v)) throw new Error(`field "${path}" must be lower-case hex`);
  return fromHex(v);
};
const hash = (v, path) => {
  if (typeof v !== "string" || !HEX32.test(v)) throw new Error(`field "${path}" must be 64 lower-case hex characters`);
  return fromHex(v);
};
const network = (v, path) => {
  if (!NETWORKS.has(str(v, path))) throw new Error(`network "${v}" is not one of ${[...NETWORKS.keys()].join(", ")}`);
  return v;
};
const hashes = (v, path) => {
  if (v === null) return [];
  if (!Array.isArray(v)) throw new Error(`field "${path}" must be a list of hashes`);
  if (v.length > MAX_PATH) throw new Error(`a Merkle path is longer than ${MAX_PATH} hashes`);
  return v.map((h, i) => hash(h, `${path}[${i}]`));
};

/**
 * isAnswer reports whether a parsed file is an answer of the API rather than a proof, as
 * docs/proof-format.md ("The API's envelope") tells them apart: an object without "format",
 * with a "proof" or an "error" member, or the "digest" and "status" of a lookup.
 */
const isAnswer = (doc) => doc instanceof Map && !doc.has("format") &&
  (doc.has("proof") || doc.has("error") || (doc.has("digest") && doc.has("status")));

/**
 * unwrap returns the proof in the API's answer about a digest (GET /v1/timestamps/{digest},
 * saved as it came: {"digest", "status", …, "proof": {…}}), as docs/proof-format.md says a
 * verifier reads it: the whole file is strict JSON, and its "proof" member is read as a proof
 * file is, every rule applying; the answer's digest must be the proof's (parseProof checks
 * it). An error answer, or an answer without a proof (the second or so before a checkpoint
 * covers the entry), holds none: it is refused at the format step, said as something to
 * fetch again rather than as damage.
 */
function unwrap(answer) {
  if (answer.has("error")) {
    const e = answer.get("error");
    const message = e instanceof Map && typeof e.get("message") === "string" ? `: ${e.get("message").slice(0, 200)}` : "";
    throw new ProofError("format", `this is the notary's error answer, not a proof${message}`, true);
  }
  if (!answer.has("proof") || answer.get("proof") === null) {
    throw new ProofError("format", `this is the notary's answer about the digest ${typeof answer.get("digest") === "string" ? answer.get("digest").slice(0, 64) : "(none)"}, ` +
      "saved before it held a proof: fetch it again in a few seconds, or save GET /v1/timestamps/{digest}/proof", true);
  }
  const p = answer.get("proof");
  if (!(p instanceof Map)) fail("format", "the notary's answer has a \"proof\" member that is not an object");
  return p;
}

/**
 * OTSFile is thrown by parseProof for an OpenTimestamps file, which is not a notary proof:
 * file is what parseOTS read ({hash, digest, root}), or null and error the OTSError that
 * says why the file is malformed.
 */
export class OTSFile extends Error {
  constructor(bytes) {
    super("an OpenTimestamps (.ots) file");
    try {
      this.file = parseOTS(bytes);
      this.error = null;
    } catch (e) {
      this.file = null;
      this.error = e;
    }
  }
}

/**
 * parseProof decodes a proof file (a Uint8Array) strictly, as notary.ParseProof does: at
 * most MAX_PROOF_SIZE bytes, one JSON object of the version 1 format and nothing more, no
 * unknown or missing fields, canonical (lower-case) hex. It checks the form, not the
 * content; it throws a ProofError at step "format".
 */
export function parseProof(bytes) {
  const tooLarge = () => fail("format", `the file is larger than ${MAX_PROOF_SIZE} bytes, the most a proof can be`);
  if (bytes.length > MAX_ANSWER_SIZE) tooLarge();
  if (isOTS(bytes)) throw new OTSFile(bytes);
  let doc;
  try {
    doc = parseJSON(new TextDecoder("utf-8", { ignoreBOM: true, fatal: true }).decode(bytes));
  } catch (e) {
    if (bytes.length > MAX_PROOF_SIZE) tooLarge();
    fail("format", `not a notary proof: ${e.message}`);
  }
  // A file larger than a proof can be is read only as the API's answer around one.
  const envelope = isAnswer(doc) ? doc : null;
  if (!envelope && bytes.length > MAX_PROOF_SIZE) tooLarge();
  if (envelope) doc = unwrap(envelope);
  try {
    const p = fields(doc, "proof", {
      format: [true, str],
      digest: [true, hash],
      entry: [true, (v, path) => fields(v, path, {
        index: [true, int64], received_ms: [true, int64], nonce: [true, hexBytes],
      })],
      log: [true, (v, path) => fields(v, path, {
        key: [true, str], checkpoint: [true, str], inclusion: [true, hashes],
      })],
      bitcoin: [false, (v, path) => fields(v, path, {
        network: [true, network], tx: [true, hexBytes], tx_index: [true, int64],
        branch: [true, hashes], header: [true, hexBytes], height: [true, int64],
      })],
      service: [false, service],
    });
    if (p.format !== FORMAT) throw new Error(`format "${p.format}" is not "${FORMAT}"`);
    if (envelope && envelope.has("digest") && envelope.get("digest") !== toHex(p.digest)) {
      throw new Error(`the answer is about the digest ${envelope.get("digest")}, its proof about ${toHex(p.digest)}`);
    }
    if (envelope) p.envelope = true;
    return p;
  } catch (e) {
    fail("format", /^(format|network|service|a Merkle|the answer)/.test(e.message) ? e.message : `not a notary proof: ${e.message}`);
  }
}

// ---- signed notes (C2SP signed-note, as golang.org/x/mod/sumdb/note) ------------------

const SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const validName = (name) => name !== "" && !SPACE.test(name) && !name.includes("+") && name.isWellFormed();

/** parseVerifierKey reads a note verifier key "<name>+<hash>+<base64 key>" (Ed25519 only). */
export function parseVerifierKey(vkey) {
  const [name, rest = ""] = cut(vkey, "+");
  const [hash16, key64 = ""] = cut(rest, "+");
  const key = base64(key64);
  if (!/^[0-9a-fA-F]{8}$/.test(hash16) || key === null || key.length === 0 || !validName(name)) {
    throw new Error("malformed verifier key");
  }
  const id = sha256(utf8(name + "\n"), key);
  const hash = ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0;
  if (parseInt(hash16, 16) !== hash) throw new Error("invalid verifier hash");
  if (key[0] !== 1) throw new Error("unknown verifier algorithm");
  if (key.length !== 33) throw new Error("malformed verifier key");
  return { name, hash, key: key.subarray(1) };
}

function cut(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + sep.length)];
}

const importedKeys = new Map();

// ed25519Verify checks an Ed25519 signature with WebCrypto.
async function ed25519Verify(step, pub, sig, msg) {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new ProofError(step, "this browser offers no WebCrypto here, so it cannot check Ed25519 signatures " +
      "(pages must come over HTTPS or from localhost); check the proof with notary verify", true);
  }
  if (sig.length !== 64) return false;
  const id = toHex(pub);
  let key = importedKeys.get(id);
  if (!key) {
    try {
      key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      if (e && e.name === "NotSupportedError") {
        throw new ProofError(step, "this browser cannot check Ed25519 signatures (WebCrypto lacks Ed25519); " +
          "use a current browser, or check the proof with notary verify", true);
      }
      return false; // not a valid public key: nothing verifies with it
    }
    importedKeys.set(id, key);
  }
  return crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
}

/**
 * openNote checks a signed note against a verifier key, as note.Open does with that one
 * key: well formed, at least one signature line by the key, every such signature valid.
 * It returns the note's text; errors are thrown at step.
 */
async function openNote(step, msg, vkey) {
  let v;
  try {
    v = parseVerifierKey(vkey);
  } catch (e) {
    fail(step, `bad verifier key: ${e.message}`);
  }
  const malformed = () => fail(step, "malformed note");
  for (const ch of msg) {
    const c = ch.codePointAt(0);
    if ((c < 0x20 && c !== 0x0a) || (c >= 0xd800 && c <= 0xdfff)) malformed();
  }
  const split = msg.lastIndexOf("\n\n");
  if (split < 0) malformed();
  const text = msg.slice(0, split + 1), sigs = msg.slice(split + 2);
  if (sigs === "" || !sigs.endsWith("\n")) malformed();
  const lines = sigs.slice(0, -1).split("\n");
  if (lines.length > 100) malformed();
  let verified = false;
  for (const line of lines) {
    if (!line.startsWith("— ")) malformed();
    const [name, b64 = ""] = cut(line.slice(2), " ");
    const sig = base64(b64, true); // canonical: one signature, one text
    if (sig === null || !validName(name) || b64 === "" || sig.length < 5) malformed();
    const hash = ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0;
    if (name !== v.name || hash !== v.hash || verified) continue; // another key's, or a repeat
    if (!(await ed25519Verify(step, v.key, sig.subarray(4), utf8(text)))) {
      fail(step, `invalid signature for key ${v.name}+${hash.toString(16).padStart(8, "0")}`);
    }
    verified = true;
  }
  if (!verified) fail(step, `no signature by the key ${v.name}+${v.hash.toString(16).padStart(8, "0")}`);
  return { text, name: v.name, hash: v.hash };
}

// parseInt64 reads a decimal as Go's strconv.ParseInt(s, 10, 64) does, or returns null.
function parseInt64(s) {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? null : n;
}

// checkKeyForm refuses a verifier key in another form than note writes: a key hash other
// than 8 lower-case hex digits, a key other than canonical base64, as checkKeyForm in Go.
function checkKeyForm(step, vkey) {
  const [, rest = ""] = cut(vkey, "+");
  const [hash16, key64 = ""] = cut(rest, "+");
  if (!/^[0-9a-f]{8}$/.test(hash16)) fail(step, `bad verifier key: key hash "${hash16}" is not 8 lower-case hex digits`);
  const key = base64(key64);
  if (key === null || btoa(String.fromCharCode(...key)) !== key64) fail(step, "bad verifier key: key is not in canonical base64");
}

async function openCheckpoint(note, vkey) {
  const step = "checkpoint";
  checkKeyForm(step, vkey);
  const { text, name, hash } = await openNote(step, note, vkey);
  const lines = text.split("\n");
  if (lines.length !== 4 || lines[3] !== "") fail(step, "checkpoint must have exactly three lines: origin, size, root");
  const [origin, sizeText, rootText] = lines;
  if (origin !== name) fail(step, `checkpoint origin "${origin}" is not the key's name "${name}"`);
  const size = parseInt64(sizeText);
  if (size === null || size < 0n || size.toString() !== sizeText) fail(step, `checkpoint size "${sizeText}" is not a canonical number`);
  const root = base64(rootText, true);
  if (root === null || root.length !== 32) fail(step, "checkpoint root is not a base64 SHA-256 hash");
  return { origin, size, root, hash };
}

/**
 * parseCosignatureKey reads a witness's cosignature/v1 verifier key "<name>+<hash>+<base64
 * 0x04 ‖ key>", in its one text form, as notary.NewCosignatureVerifier.
 */
export function parseCosignatureKey(vkey) {
  const [name, rest = ""] = cut(vkey, "+");
  const [hash16, key64 = ""] = cut(rest, "+");
  const key = base64(key64, true);
  if (!/^[0-9a-f]{8}$/.test(hash16) || key === null || !validName(name) || key64.includes("\n")) {
    throw new Error(`witness key "${vkey}" is not name+hash+key in canonical form`);
  }
  if (key.length !== 33 || key[0] !== 4) throw new Error(`witness key "${vkey}" is not a cosignature/v1 (type 0x04) Ed25519 key`);
  const id = sha256(utf8(name + "\n"), key);
  const hash = ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0;
  if (parseInt(hash16, 16) !== hash) throw new Error(`witness key "${vkey}": its hash is not the hash of its name and key`);
  return { name, hash, key: key.subarray(1), vkey };
}

/**
 * checkWitnesses requires of a signed checkpoint at least quorum valid cosignature/v1 lines
 * by the witness keys given (a key given twice counts once), as notary.VerifyWitnesses:
 * a line bearing a given key's name and hash that does not verify fails, lines of other
 * keys are ignored. It returns the names of the witnesses that cosigned.
 */
async function checkWitnesses(note, keys, quorum) {
  const step = "witness";
  let ws;
  try {
    ws = [...new Set(keys)].sort().map(parseCosignatureKey);
  } catch (e) {
    fail(step, e.message);
  }
  if (quorum > ws.length) fail(step, `a quorum of ${quorum} witnesses out of ${ws.length} keys cannot be met`);
  const split = note.lastIndexOf("\n\n");
  const text = note.slice(0, split + 1), lines = note.slice(split + 2).slice(0, -1).split("\n");
  const got = [], missing = [];
  for (const w of ws) {
    let found = false;
    for (const line of lines) {
      const [name, b64 = ""] = cut(line.slice(2), " ");
      const sig = base64(b64, true);
      if (sig === null || sig.length < 4) continue;
      const hash = ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0;
      if (name !== w.name || hash !== w.hash) continue;
      const ok = sig.length === 4 + 8 + 64 &&
        (await ed25519Verify(step, w.key, sig.subarray(12), utf8(`cosignature/v1\ntime ${readU64be(sig, 4)}\n${text}`)));
      if (!ok) fail(step, `notary: witness cosignature: invalid signature for key ${w.name}+${hash.toString(16).padStart(8, "0")}`);
      found = true;
      break;
    }
    (found ? got : missing).push(found ? w.name : w.vkey);
  }
  if (got.length < quorum) {
    fail(step, `the checkpoint has ${got.length} valid cosignature(s) by the witnesses you trust, ${quorum} required; missing: ${missing.join(", ")}`);
  }
  return got;
}

// readU64be reads the big-endian unsigned 64-bit integer at b[at:at+8], as a BigInt.
function readU64be(b, at) {
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(b[at + i]);
  return n;
}

/**
 * signedByTrusted reports whether a checkpoint, signed by the key of name and hash, is
 * signed by the trusted key (a list of verifier keys) of that name and hash, as note.Open
 * looks keys up: exactly one trusted key of that name and hash, and its signature valid.
 */
async function signedByTrusted(note, name, hash, trusted) {
  const matches = trusted.filter((k) => {
    try {
      const t = parseVerifierKey(k);
      return t.name === name && t.hash === hash;
    } catch {
      return false; // not a key: it trusts nothing
    }
  });
  if (matches.length !== 1) return false;
  try {
    await openNote("key", note, matches[0]);
    return true;
  } catch (e) {
    if (e instanceof ProofError && e.unsupported) throw e;
    return false;
  }
}

// ---- the log ----------------------------------------------------------------------------

const leafHash = (p) => sha256(Uint8Array.of(0x00, 0x01), p.digest, u64be(p.entry.received_ms), p.entry.nonce);
const nodeHash = (l, r) => sha256(Uint8Array.of(0x01), l, r);

/** rootFromInclusion folds an RFC 9162 inclusion path (§2.1.3.2); null if it does not fit. */
function rootFromInclusion(index, size, leaf, path) {
  let fn = index, sn = size - 1n, r = leaf;
  for (const p of path) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

// ---- Bitcoin ----------------------------------------------------------------------------

/**
 * findCommitment parses a transaction (non-witness serialization, every count in its
 * shortest compact size) and returns the offset of root in it, which must end the data of
 * exactly one OP_RETURN output.
 */
function findCommitment(tx, root) {
  const step = "transaction";
  if (tx.length > MAX_TX_SIZE) fail(step, `transaction is ${tx.length} bytes, more than ${MAX_TX_SIZE}`);
  if (tx.length === 64) fail(step, "transaction is 64 bytes: refused, it could be a Merkle node in disguise");
  let off = 0, err = null;
  const skip = (n) => {
    if (err) return;
    if (n < 0 || n > tx.length - off) { err = "unexpected end"; return; }
    off += n;
  };
  const varint = () => {
    if (err || off >= tx.length) { skip(1); return 0; }
    const prefix = tx[off++];
    const size = { 0xfd: 2, 0xfe: 4, 0xff: 8 }[prefix];
    if (!size) return prefix;
    const start = off;
    skip(size);
    if (err) return 0;
    let n = 0n;
    for (let i = size - 1; i >= 0; i--) n = (n << 8n) | BigInt(tx[start + i]);
    if (n < { 2: 0xfdn, 4: 0x10000n, 8: 0x100000000n }[size]) { err = `count ${n} is not in its shortest compact size`; return 0; }
    if (n > BigInt(tx.length)) { err = `count ${n} is larger than the transaction`; return 0; }
    return Number(n);
  };
  skip(4); // version
  const nIn = varint();
  if (!err && nIn === 0) fail(step, "transaction has no inputs (a witness serialization? the proof needs the non-witness one)");
  for (let i = 0; i < nIn && !err; i++) {
    skip(36); // previous outpoint
    skip(varint()); // script
    skip(4); // sequence
  }
  const nOut = varint();
  let found = -1, near = false;
  for (let i = 0; i < nOut && !err; i++) {
    skip(8); // value
    const n = varint();
    const start = off;
    skip(n);
    if (err) break;
    const script = tx.subarray(start, start + n);
    const at = opReturnRoot(script, root);
    if (at >= 0) {
      if (found >= 0) fail(step, "transaction commits the root in more than one output");
      found = start + at;
    } else if (script[0] === 0x6a && contains(script, root)) {
      near = true;
    }
  }
  skip(4); // lock time
  if (err) fail(step, `transaction is malformed: ${err}`);
  if (off !== tx.length) fail(step, `transaction has ${tx.length - off} trailing bytes`);
  if (found < 0 && near) fail(step, "an OP_RETURN output holds the log root, but not as the end of one minimal push of 32 to 80 bytes");
  if (found < 0) fail(step, "no OP_RETURN output of the transaction commits the log root");
  return found;
}

// opReturnRoot returns where root starts in script if script is OP_RETURN and one minimal
// push of 32 to 80 bytes whose data ends with root, or -1.
function opReturnRoot(script, root) {
  const OP_RETURN = 0x6a, OP_PUSHDATA1 = 0x4c, MAX_DATA = 80;
  if (script.length < 2 || script[0] !== OP_RETURN) return -1;
  let dataStart = 2, n = script[1];
  if (script[1] === OP_PUSHDATA1 && script.length >= 3) {
    dataStart = 3; n = script[2];
    if (n < OP_PUSHDATA1) return -1; // a direct push would do
  } else if (script[1] > OP_PUSHDATA1) {
    return -1;
  }
  if (dataStart + n !== script.length || n < 32 || n > MAX_DATA) return -1;
  const at = script.length - 32;
  return equal(script.subarray(at), root) ? at : -1;
}

// target returns the proof-of-work target that a header's bits field states in Bitcoin's
// compact form, or null if it states none: negative, zero, or more than 256 bits.
function target(bits) {
  const mantissa = BigInt(bits & 0x007fffff), exponent = BigInt(bits >>> 24);
  if ((bits & 0x00800000) !== 0 && mantissa !== 0n) return null;
  const t = exponent <= 3n ? mantissa >> (8n * (3n - exponent)) : mantissa << (8n * (exponent - 3n));
  return t === 0n || t >= 1n << 256n ? null : t;
}

// ---- verification -----------------------------------------------------------------------

/**
 * headerWork checks that an 80-byte block header carries the proof of work its bits state,
 * and that this target is within the network's limit; it returns {blockHash (as explorers
 * print it), bits (hex), time (the header's, a Date)}, or throws a ProofError at step "work".
 * It does not check that the block is in the network's best chain: only a node can.
 */
export function headerWork(h, network) {
  if (h.length !== HEADER_SIZE) fail("block", `header is ${h.length} bytes, not ${HEADER_SIZE}`);
  const blockHash = reverseHex(sha256d(h));
  const bits = u32le(h, 72), t = target(bits), bitsHex = bits.toString(16).padStart(8, "0");
  if (t === null) fail("work", `header bits ${bitsHex} state no valid target (negative, zero or overflowing)`);
  if (t > NETWORKS.get(network)) fail("work", `header bits ${bitsHex} state a target easier than ${network} allows (its proof-of-work limit)`);
  if (BigInt("0x" + blockHash) > t) fail("work", "header hash does not meet its difficulty target");
  return { blockHash, bits: bitsHex, time: new Date(u32le(h, 68) * 1000) };
}

/**
 * verifyProof checks every step of a parsed proof that needs no network, in the order of
 * notary.Verify: entry → leaf → signed checkpoint → trusted key → inclusion, and for a
 * complete proof → OP_RETURN → txid → block Merkle root → proof of work, within the
 * network's limit. It does not check that the block is in Bitcoin's best chain: only a
 * node can. report(step, facts) is called as each step passes. trusted are the log keys
 * the caller trusts (verifier key strings), as notary.Verify takes them: a pending proof
 * must be signed by one of them (step "key"), a complete one verifies and says whether it
 * was (keyTrusted). null trusts the key the proof names, as Go's p.OwnKey() (keyTrust
 * "own"). witnesses, if given as {keys, quorum}, are the cosignature/v1 keys of the
 * witnesses a pending proof's checkpoint must carry quorum cosignatures of (step "witness",
 * after inclusion, as notary.VerifyWitnesses after notary.Verify); a complete proof rests on
 * Bitcoin and is not held to them. It returns what was established, or throws a ProofError.
 */
export async function verifyProof(p, report = () => {}, trusted = null, witnesses = null) {
  if (p.entry.nonce.length !== 16) fail("entry", `nonce must be 16 bytes, got ${p.entry.nonce.length}`);
  if (p.entry.index < 0n) fail("entry", `negative index ${p.entry.index}`);
  if (p.entry.received_ms < 0n) fail("entry", `negative receive time ${p.entry.received_ms}`);
  const leaf = leafHash(p);
  const v = {
    digest: toHex(p.digest), index: p.entry.index, receivedMs: p.entry.received_ms,
    leaf: toHex(leaf), key: p.log.key, complete: false,
  };
  report("entry", v);

  const cp = await openCheckpoint(p.log.checkpoint, p.log.key);
  Object.assign(v, { origin: cp.origin, logSize: cp.size, logRoot: toHex(cp.root) });
  report("checkpoint", v);

  if (trusted === null) {
    v.keyTrust = "own";
  } else {
    v.keyTrust = (await signedByTrusted(p.log.checkpoint, cp.origin, cp.hash, trusted)) ? "trusted" : "untrusted";
  }
  v.keyTrusted = v.keyTrust !== "untrusted";
  if (!v.keyTrusted && !p.bitcoin) {
    fail("key", `the proof is pending and its checkpoint is signed by ${p.log.key}, not by a key you trust`);
  }
  report("key", v);

  if (p.entry.index >= cp.size) fail("inclusion", `entry ${p.entry.index} is not in a log of size ${cp.size}`);
  const root = rootFromInclusion(p.entry.index, cp.size, leaf, p.log.inclusion);
  if (root === null) fail("inclusion", `an inclusion path of ${p.log.inclusion.length} hashes does not fit leaf ${p.entry.index} of a tree of size ${cp.size}`);
  if (!equal(root, cp.root)) fail("inclusion", `the inclusion path leads to ${toHex(root)}, not to the checkpoint's root ${toHex(cp.root)}`);
  v.pathLength = p.log.inclusion.length;
  report("inclusion", v);

  const b = p.bitcoin;
  if (!b && witnesses && witnesses.keys.length > 0) {
    v.witnesses = await checkWitnesses(p.log.checkpoint, witnesses.keys, witnesses.quorum);
    v.witnessQuorum = witnesses.quorum;
    report("witness", v);
  }
  if (!b) return v;
  findCommitment(b.tx, cp.root);
  const txid = sha256d(b.tx);
  v.txid = reverseHex(txid);
  report("transaction", v);

  const h = b.header;
  if (h.length !== HEADER_SIZE) fail("block", `header is ${h.length} bytes, not ${HEADER_SIZE}`);
  if (b.tx_index < 0n || (b.branch.length < 64 && b.tx_index >= 1n << BigInt(b.branch.length))) {
    fail("block", `transaction index ${b.tx_index} does not fit a branch of ${b.branch.length} hashes`);
  }
  let node = txid;
  b.branch.forEach((sibling, i) => {
    node = ((b.tx_index >> BigInt(i)) & 1n) === 1n ? sha256d(sibling, node) : sha256d(node, sibling);
  });
  const merkleRoot = h.subarray(36, 68), blockHash = sha256d(h);
  if (!equal(node, merkleRoot)) {
    fail("block", `transaction ${v.txid} is not in block ${reverseHex(blockHash)}: its branch leads to ${reverseHex(node)}, the header says ${reverseHex(merkleRoot)}`);
  }
  v.blockHash = reverseHex(blockHash);
  v.branchLength = b.branch.length;
  report("block", v);

  const work = headerWork(h, b.network);
  if (b.height < 0n) fail("block", `negative height ${b.height}`);
  Object.assign(v, { complete: true, network: b.network, height: b.height, bits: work.bits, blockTime: work.time });
  report("work", v);
  return v;
}

/**
 * checkProof parses and verifies a proof file (a Uint8Array), trusting the log keys trusted
 * and requiring the witnesses (see verifyProof); if fileDigest (hex) is given, the proof must be for it. A proof for another digest fails at step "digest", and is still
 * verified, to tell a proof of another file from a damaged one. It never throws for a bad
 * proof: it returns {valid, proof?, verified?, stage?, step?, message?, unsupported?, checks},
 * where step is the first step that failed and checks lists {step, ok, facts|message} for
 * every step that ran, in order.
 */
export async function checkProof(bytes, fileDigest, trusted = null, witnesses = null) {
  const checks = [];
  const report = (step, facts) => checks.push({ step, ok: true, facts: { ...facts } });
  let p = null, wrongFile = null;
  try {
    p = parseProof(bytes);
    report("format", { digest: toHex(p.digest), complete: !!p.bitcoin, envelope: !!p.envelope, network: p.bitcoin && p.bitcoin.network, service: p.service });
    if (fileDigest !== undefined && fileDigest !== toHex(p.digest)) {
      wrongFile = new ProofError("digest", `the file's SHA-256 is ${fileDigest}, the proof is for ${toHex(p.digest)}`);
      checks.push({ step: "digest", ok: false, message: wrongFile.message });
    } else if (fileDigest !== undefined) {
      report("digest", { digest: fileDigest });
    }
    const verified = await verifyProof(p, report, trusted, witnesses);
    if (wrongFile) return { valid: false, proof: p, verified, stage: "verify", step: "digest", message: wrongFile.message, checks };
    return { valid: true, proof: p, verified, checks };
  } catch (e) {
    if (e instanceof OTSFile) return { valid: false, ots: e, stage: "parse", step: "format", message: e.message, checks };
    if (!(e instanceof ProofError)) throw e;
    checks.push({ step: e.step, ok: false, message: e.message, unsupported: e.unsupported });
    const first = wrongFile || e;
    return {
      valid: false, proof: p, stage: first.step === "format" ? "parse" : "verify",
      step: first.step, message: first.message, unsupported: !wrongFile && e.unsupported, checks,
    };
  }
}
