"""Drive the OpenTimestamps reference implementation (python3-opentimestamps) for notary's
interoperability tests. Every command prints JSON, one object per line.

  parse                       stdin: one .ots file in hex per line; parse and re-serialize each
  random SEED N               build N random .ots files with the reference's own API
  stamp URL DOC OUT           stamp DOC against the calendar at URL as the ots client does
  upgrade OTS                 ask each pending attestation's calendar, merge, rewrite OTS
  verify OTS DOC RPCURL       check DOC's digest and every Bitcoin attestation against the
                              headers of the node at RPCURL (JSON-RPC, user:pass in the URL)
"""

import base64
import io
import json
import os
import random
import sys
import urllib.parse
import urllib.request
import warnings

from bitcoin.core import CBlockHeader
from opentimestamps.calendar import CommitmentNotFoundError, RemoteCalendar
from opentimestamps.core.dubious.notary import EthereumBlockHeaderAttestation
from opentimestamps.core.notary import (BitcoinBlockHeaderAttestation, LitecoinBlockHeaderAttestation,
                                        PendingAttestation, UnknownAttestation)
from opentimestamps.core.op import (OpAppend, OpHexlify, OpKECCAK256, OpPrepend, OpReverse, OpRIPEMD160,
                                    OpSHA1, OpSHA256)
from opentimestamps.core.serialize import BytesDeserializationContext, BytesSerializationContext
from opentimestamps.core.timestamp import DetachedTimestampFile, Timestamp

warnings.simplefilter("ignore")  # OpReverse announces its deprecation


def out(obj):
    print(json.dumps(obj), flush=True)


def serialize(obj):
    ctx = BytesSerializationContext()
    obj.serialize(ctx)
    return ctx.getbytes()


def attestation_facts(timestamp):
    """(message, tag, payload) of every attestation, sorted, all in hex."""
    facts = []
    for msg, att in timestamp.all_attestations():
        ctx = BytesSerializationContext()
        att._serialize_payload(ctx)
        facts.append([msg.hex(), att.TAG.hex(), ctx.getbytes().hex()])
    return sorted(facts)


def cmd_parse():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        data = bytes.fromhex(line)
        try:
            f = DetachedTimestampFile.deserialize(BytesDeserializationContext(data))
        except Exception as exp:  # every way the reference rejects a file
            out({"ok": False, "error": "%s: %s" % (type(exp).__name__, exp)})
            continue
        out({"ok": True, "hex": serialize(f).hex(), "digest": f.file_digest.hex(),
             "hash_op": str(f.file_hash_op), "attestations": attestation_facts(f.timestamp)})


URI_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._/:"


def random_attestation(rnd):
    kind = rnd.randrange(6)
    height = rnd.choice([rnd.randrange(128), rnd.randrange(1 << 14), rnd.randrange(1 << 21), rnd.randrange(1 << 40)])
    if kind == 0:
        return PendingAttestation("https://" + "".join(rnd.choice(URI_CHARS) for _ in range(rnd.randrange(1, 30))))
    if kind in (1, 2):
        return BitcoinBlockHeaderAttestation(height)
    if kind == 3:
        return LitecoinBlockHeaderAttestation(height)
    if kind == 4:
        return EthereumBlockHeaderAttestation(height)
    tag = rnd.choice([bytes.fromhex("0588960d73d71900"), bytes(rnd.randrange(256) for _ in range(8))])
    return UnknownAttestation(tag, bytes(rnd.randrange(256) for _ in range(rnd.randrange(20))))


def random_op(rnd, msg):
    arg = lambda: bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
    choices = [lambda: OpAppend(arg()), lambda: OpPrepend(arg()), OpSHA256, OpSHA1, OpRIPEMD160, OpKECCAK256, OpReverse]
    if len(msg) <= 1000:
        choices.append(OpHexlify)
    return rnd.choice(choices)()


def grow(rnd, stamp, depth):
    forks = rnd.choice([0, 1, 1, 1, 2, 3]) if depth < 12 else 0
    for _ in range(rnd.choice([0, 0, 1, 2, 3]) if forks else rnd.randrange(1, 4)):
        stamp.attestations.add(random_attestation(rnd))
    for _ in range(forks):
        op = random_op(rnd, stamp.msg)
        if len(op(stamp.msg)) > 4096:
            continue
        grow(rnd, stamp.ops.add(op), depth + 1)
    if not stamp.attestations and not stamp.ops:
        stamp.attestations.add(random_attestation(rnd))


def cmd_random(seed, n):
    rnd = random.Random(int(seed))
    for _ in range(int(n)):
        hash_op = rnd.choice([OpSHA256, OpSHA256, OpSHA1, OpRIPEMD160, OpKECCAK256])()
        # Not from_fd: keccak256 is a file hash the format allows but the reference cannot compute from a file.
        f = DetachedTimestampFile(hash_op, Timestamp(hash_op(os.urandom(rnd.randrange(100)))))
        grow(rnd, f.timestamp, 0)
        out({"hex": serialize(f).hex(), "attestations": attestation_facts(f.timestamp)})


def write_ots(path, f):
    with open(path, "wb") as fd:
        fd.write(serialize(f))


def read_ots(path):
    with open(path, "rb") as fd:
        data = fd.read()
    return data, DetachedTimestampFile.deserialize(BytesDeserializationContext(data))


def cmd_stamp(url, doc, path):
    with open(doc, "rb") as fd:
        f = DetachedTimestampFile.from_fd(OpSHA256(), fd)
    # As the ots client does: a nonce, so the calendar learns nothing of the digest.
    tip = f.timestamp.ops.add(OpAppend(os.urandom(16))).ops.add(OpSHA256())
    answer = RemoteCalendar(url).submit(tip.msg, timeout=30)
    tip.merge(answer)
    write_ots(path, f)
    out({"commitment": tip.msg.hex(), "answer": serialize(answer).hex(),
         "attestations": attestation_facts(f.timestamp)})


def cmd_upgrade(path):
    _, f = read_ots(path)
    reasons = []
    for msg, att in list(f.timestamp.all_attestations()):
        if not isinstance(att, PendingAttestation):
            continue
        try:
            answer = RemoteCalendar(att.uri).get_timestamp(msg, timeout=30)
        except CommitmentNotFoundError as exp:
            reasons.append(exp.reason)
            continue
        for stamp in walk(f.timestamp):
            if stamp.msg == msg:
                stamp.merge(answer)
    write_ots(path, f)
    complete = any(isinstance(a, BitcoinBlockHeaderAttestation) for _, a in f.timestamp.all_attestations())
    out({"complete": complete, "reasons": reasons})


def walk(stamp):
    yield stamp
    for sub in stamp.ops.values():
        yield from walk(sub)


def rpc(url, method, *params):
    u = urllib.parse.urlsplit(url)
    req = urllib.request.Request("%s://%s:%d%s" % (u.scheme, u.hostname, u.port, u.path or "/"),
                                 data=json.dumps({"jsonrpc": "1.0", "id": 1, "method": method,
                                                  "params": list(params)}).encode(),
                                 headers={"Content-Type": "application/json"})
    auth = base64.b64encode(("%s:%s" % (urllib.parse.unquote(u.username), urllib.parse.unquote(u.password))).encode())
    req.add_header("Authorization", "Basic " + auth.decode())
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
    if answer.get("error"):
        raise Exception(answer["error"])
    return answer["result"]


def cmd_verify(path, doc, rpc_url):
    data, f = read_ots(path)
    with open(doc, "rb") as fd:
        digest_ok = f.file_hash_op.hash_fd(fd) == f.file_digest
    blocks, pending = [], []
    for msg, att in f.timestamp.all_attestations():
        if isinstance(att, PendingAttestation):
            pending.append(att.uri)
        elif isinstance(att, BitcoinBlockHeaderAttestation):
            block_hash = rpc(rpc_url, "getblockhash", att.height)
            header = CBlockHeader.deserialize(bytes.fromhex(rpc(rpc_url, "getblockheader", block_hash, False)))
            # Raises VerificationError unless msg is the header's Merkle root.
            block_time = att.verify_against_blockheader(msg, header)
            blocks.append({"height": att.height, "time": block_time, "merkle_root": msg.hex()})
    out({"digest_ok": digest_ok, "reserialized_equal": serialize(f) == data, "digest": f.file_digest.hex(),
         "bitcoin": blocks, "pending": pending})


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"parse": cmd_parse, "random": cmd_random, "stamp": cmd_stamp, "upgrade": cmd_upgrade,
     "verify": cmd_verify}[cmd](*args)


if __name__ == "__main__":
    main()
