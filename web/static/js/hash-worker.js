// A worker that hashes one file with SHA-256, reading it in chunks so that memory stays
// bounded and the page stays responsive for files of any size. Messages in: {file}; out:
// {type: "progress", done, total}, then {type: "done", digest} or {type: "error", message}.
import { SHA256, toHex } from "./sha256.js";

const CHUNK = 8 << 20;

const read = (file, off) => file.slice(off, Math.min(off + CHUNK, file.size)).arrayBuffer();

self.onmessage = async ({ data: { file } }) => {
  try {
    const h = new SHA256();
    const total = file.size;
    // Read the next chunk while the current one is hashed: at most two chunks in memory.
    let next = total > 0 ? read(file, 0) : null;
    for (let off = 0; off < total; off += CHUNK) {
      const buf = new Uint8Array(await next);
      next = off + CHUNK < total ? read(file, off + CHUNK) : null;
      h.update(buf);
      self.postMessage({ type: "progress", done: off + buf.length, total });
    }
    self.postMessage({ type: "done", digest: toHex(h.digest()) });
  } catch (e) {
    self.postMessage({ type: "error", message: e && e.message ? e.message : String(e) });
  }
};
