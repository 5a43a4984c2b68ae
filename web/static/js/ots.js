// The OpenTimestamps (.ots) file format, as the browser reads it: the same rules and limits
// as the Go package ots (ots.ParseFile), which the tests hold it to on every file of
// ots/testdata. It computes every message of the tree it can: SHA-256, append, prepend,
// reverse and hexlify; the results of SHA-1, RIPEMD-160 and Keccak-256, which this page
// does not compute, are known by their length only, and so are the messages below them.

import { sha256, toHex } from "./sha256.js";

export const MAX_SIZE = 1 << 20; // the largest file, as ots.MaxSize
const MAX_DEPTH = 256; // nodes on a path from the root, as ots.MaxDepth
const MAX_MSG_TOTAL = 16 << 20; // bytes of all the messages of a tree
const MAX_MSG = 4096; // bytes of a message, an argument or a result
const MAX_PAYLOAD = 8192; // bytes of an attestation's payload
const MAX_URI = 1000; // bytes of a calendar's URI
const URI_CHARS = /^[A-Za-z0-9\-._/:]*$/;

export const MAGIC = Uint8Array.of(0x00, ...new TextEncoder().encode("OpenTimestamps"), 0x00, 0x00,
  ...new TextEncoder().encode("Proof"), 0x00, 0xbf, 0x89, 0xe2, 0xe8, 0x84, 0xe8, 0x92, 0x94);

const TAGS = {
  pending: "83dfe30d2ef90c8e",
  bitcoin: "0588960d73d71901",
  litecoin: "06869a0d73d71b45",
  ethereum: "30fe8087b5c7ead7",
};

// OPS are the operations: name, the digest's length for a hash (0 otherwise), whether it
// takes an argument, and whether this page computes it.
const OPS = new Map([
  [0x02, { name: "sha1", hashLen: 20 }],
  [0x03, { name: "ripemd160", hashLen: 20 }],
  [0x08, { name: "sha256", hashLen: 32, computed: true }],
  [0x67, { name: "keccak256", hashLen: 32 }],
  [0xf0, { name: "append", arg: true, computed: true }],
  [0xf1, { name: "prepend", arg: true, computed: true }],
  [0xf2, { name: "reverse", computed: true }],
  [0xf3, { name: "hexlify", computed: true }],
]);

/** OTSError is a malformed .ots file, and the byte offset where it was found so. */
export class OTSError extends Error {
  constructor(offset, message) {
    super(`at byte ${offset}: ${message}`);
    this.offset = offset;
  }
}

/** isOTS reports whether bytes start with the magic header of an .ots file. */
export function isOTS(bytes) {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * parseOTS reads an .ots file (a Uint8Array that starts with MAGIC) strictly, as
 * ots.ParseFile does: version 1, a hash operation and the file's digest, then its
 * timestamp: no unknown operation, no entry twice in a node, integers in their shortest
 * form, limits on sizes and depth, nothing after it. It returns {hash, digest, root}: the
 * hash's name, the digest (hex) and the tree, whose nodes are {msg (Uint8Array, or null when
 * not computed), len, attestations: [{kind, uri?, height?, tag}], branches: [{op, arg, node}]}.
 * It throws an OTSError.
 */
export function parseOTS(bytes) {
  if (bytes.length > MAX_SIZE) throw new OTSError(0, `file of ${bytes.length} bytes, more than ${MAX_SIZE}`);
  if (!isOTS(bytes)) throw new OTSError(0, "not an OpenTimestamps file (no magic header)");
  const d = new Decoder(bytes, MAGIC.length);
  const version = d.varuint();
  if (version !== 1n) {
    d.off = MAGIC.length;
    d.fail(`major version ${version}, this reader knows 1`);
  }
  const code = d.byte();
  const op = OPS.get(code);
  if (!op || !op.hashLen) {
    d.off--;
    d.fail(`file hash operation 0x${code.toString(16).padStart(2, "0")} is not a hash`);
  }
  const digest = d.bytes(op.hashLen);
  const root = d.timestamp(digest.slice(), digest.length, 0);
  if (d.off !== bytes.length) d.fail("trailing data after the timestamp");
  return { hash: op.name, digest: toHex(digest), root };
}

class Decoder {
  constructor(b, off) {
    this.b = b;
    this.off = off;
    this.budget = MAX_MSG_TOTAL;
    this.nodes = 0;
    this.seen = new Set(); // "node:encoding" of the entries read
  }

  fail(message) { throw new OTSError(this.off, message); }

  byte() {
    if (this.off >= this.b.length) this.fail("truncated");
    return this.b[this.off++];
  }

  bytes(n) {
    if (n > this.b.length - this.off) this.fail(`truncated: want ${n} bytes, ${this.b.length - this.off} left`);
    const out = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }

  // varuint reads an unsigned LEB128 integer in its shortest form, at most 64 bits.
  varuint() {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const start = this.off;
      const c = this.byte();
      if (shift === 63n && c > 1) {
        this.off = start;
        this.fail("integer larger than 64 bits");
      }
      v |= BigInt(c & 0x7f) << shift;
      if ((c & 0x80) === 0) {
        if (c === 0 && shift > 0n) {
          this.off = start;
          this.fail("integer not in its shortest form");
        }
        return v;
      }
    }
  }

  varbytes(min, max) {
    const start = this.off;
    const n = this.varuint();
    if (n < BigInt(min) || n > BigInt(max)) {
      this.off = start;
      this.fail(`length ${n} out of range [${min}, ${max}]`);
    }
    return this.bytes(Number(n));
  }

  // first records the entry encoded as b[start:off] in node, and reports whether it is new.
  first(node, start) {
    const key = `${node}:${toHex(this.b.subarray(start, this.off))}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  // timestamp reads the node of the message msg (null when not computed) of len bytes.
  timestamp(msg, len, depth) {
    if (depth >= MAX_DEPTH) this.fail(`timestamp deeper than ${MAX_DEPTH}`);
    if ((this.budget -= len) < 0) this.fail(`the messages of the tree exceed ${MAX_MSG_TOTAL} bytes`);
    const t = { msg, len, attestations: [], branches: [] };
    const node = this.nodes++;
    for (let firstEntry = true; ; firstEntry = false) {
      let c = this.byte();
      const fork = c === 0xff;
      if (fork) c = this.byte();
      const check = fork || !firstEntry;
      if (c === 0x00) {
        const start = this.off;
        const a = this.attestation();
        if (check && !this.first(node, start - 1)) {
          this.off = start;
          this.fail("an attestation twice on one node");
        }
        t.attestations.push(a);
      } else {
        this.off--;
        const start = this.off;
        const code = this.byte();
        const op = OPS.get(code);
        if (!op) {
          this.off--;
          this.fail(`unknown operation 0x${code.toString(16).padStart(2, "0")}`);
        }
        const arg = op.arg ? this.varbytes(1, MAX_MSG).slice() : null;
        if (check && !this.first(node, start)) {
          this.off = start;
          this.fail(`operation ${op.name} twice on one node`);
        }
        const [res, resLen, err] = apply(op, arg, msg, len);
        if (err) {
          this.off = start;
          this.fail(err);
        }
        t.branches.push({ op: op.name, arg, node: this.timestamp(res, resLen, depth + 1) });
      }
      if (!fork) return t;
    }
  }

  attestation() {
    const tag = toHex(this.bytes(8));
    const payloadAt = this.off;
    const payload = this.varbytes(0, MAX_PAYLOAD);
    const p = new Decoder(payload, 0);
    const bad = (message) => { throw new OTSError(payloadAt, message); };
    if (tag === TAGS.pending) {
      let uri;
      try {
        uri = p.varbytes(0, MAX_URI);
      } catch {
        bad("pending attestation payload is not one URI");
      }
      if (p.off !== payload.length) bad("pending attestation payload is not one URI");
      const text = String.fromCharCode(...uri);
      if (!URI_CHARS.test(text)) bad(`calendar URI "${text}" has a character OpenTimestamps does not allow`);
      return { kind: "pending", uri: text, tag };
    }
    if (tag === TAGS.bitcoin || tag === TAGS.litecoin || tag === TAGS.ethereum) {
      let height;
      try {
        height = p.varuint();
      } catch {
        bad("block attestation payload is not one block height");
      }
      if (p.off !== payload.length) bad("block attestation payload is not one block height");
      const kind = Object.keys(TAGS).find((k) => TAGS[k] === tag);
      return { kind, height, tag };
    }
    return { kind: "unknown", tag };
  }
}

// apply returns the result of op on msg (of len bytes; null when not computed) as
// [result or null, its length, error or null], with the limits of ots.Apply.
function apply(op, arg, msg, len) {
  if (len > MAX_MSG) return [null, 0, `${op.name} of a ${len}-byte message: longer than ${MAX_MSG}`];
  const known = msg !== null && op.computed;
  switch (op.name) {
    case "append":
    case "prepend": {
      const n = len + arg.length;
      if (n > MAX_MSG) return [null, 0, `${op.name} gives ${n} bytes, more than ${MAX_MSG}`];
      if (!known) return [null, n, null];
      const out = new Uint8Array(n);
      out.set(op.name === "append" ? msg : arg, 0);
      out.set(op.name === "append" ? arg : msg, op.name === "append" ? msg.length : arg.length);
      return [out, n, null];
    }
    case "reverse":
      if (len === 0) return [null, 0, "reverse of an empty message"];
      return [known ? msg.slice().reverse() : null, len, null];
    case "hexlify":
      if (len === 0) return [null, 0, "hexlify of an empty message"];
      if (len > MAX_MSG / 2) return [null, 0, `hexlify of a ${len}-byte message: longer than ${MAX_MSG / 2}`];
      return [known ? new TextEncoder().encode(toHex(msg)) : null, 2 * len, null];
  }
  return [known ? sha256(msg) : null, op.hashLen, null];
}

/**
 * attestations lists every attestation of the tree with the message it attests (null when
 * not computed) and the operations from the digest to it.
 */
export function attestations(root) {
  const out = [];
  const walk = (t, path) => {
    for (const a of t.attestations) out.push({ ...a, msg: t.msg, path });
    for (const b of t.branches) walk(b.node, [...path, b.op]);
  };
  walk(root, []);
  return out;
}
