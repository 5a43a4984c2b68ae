package notary

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
)

// batchReceiptHeader is the first line of a batch receipt's signed text. It is neither a
// checkpoint's origin line nor a receipt's header, so no signed note of one kind can be
// passed off as another.
const batchReceiptHeader = "notary-batch-receipt/v1"

// BatchItemSize is the length of one item's bytes in a batch receipt's items hash:
// index (8) ‖ receive time in Unix milliseconds (8) ‖ digest (32) ‖ leaf hash (32).
const BatchItemSize = 8 + 8 + 32 + merkle.HashSize

// MaxBatchItems caps the number of items one batch receipt covers.
const MaxBatchItems = 1 << 20

// BatchItem is one digest's line of a batch receipt: the entry the digest has in the log.
type BatchItem struct {
	Index      int64
	ReceivedMS int64 // receive time, Unix milliseconds
	Digest     Digest
	LeafHash   merkle.Hash
}

// ItemOf returns the batch item of entry e.
func ItemOf(e Entry) BatchItem {
	return BatchItem{Index: e.Index, ReceivedMS: e.Time.UnixMilli(), Digest: e.Digest, LeafHash: e.LeafHash()}
}

// BatchReceipt is the service's one signed promise for a whole batch of digests: that it
// logged each listed digest at the listed index and time. Its signed text commits to the
// items through ItemsHash (see HashBatchItems); the items themselves travel beside it.
type BatchReceipt struct {
	Origin    string
	Count     int
	ItemsHash [sha256.Size]byte
	// Note is the signed note: the text followed by the Ed25519 signature line.
	Note string
	// KeyID and Signature are taken from Note's signature line.
	KeyID     uint32
	Signature []byte
}

// HashBatchItems returns the SHA-256 of the items' bytes, one after the other, each
// index (8 bytes, big-endian) ‖ receive time in Unix milliseconds (8, big-endian) ‖
// digest (32) ‖ leaf hash (32).
func HashBatchItems(items []BatchItem) [sha256.Size]byte {
	h := sha256.New()
	var buf [64 * BatchItemSize]byte
	b := buf[:0]
	for _, it := range items {
		b = binary.BigEndian.AppendUint64(b, uint64(it.Index))
		b = binary.BigEndian.AppendUint64(b, uint64(it.ReceivedMS))
		b = append(b, it.Digest[:]...)
		b = append(b, it.LeafHash[:]...)
		if len(b) == len(buf) {
			h.Write(b)
			b = b[:0]
		}
	}
	h.Write(b)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// formatBatchReceipt is the text a batch receipt's signature covers:
//
//	notary-batch-receipt/v1
//	<origin>
//	<count, decimal>
//	<items hash, lower-case hex>
func formatBatchReceipt(origin string, count int, itemsHash [sha256.Size]byte) string {
	return batchReceiptHeader + "\n" + origin + "\n" + strconv.Itoa(count) + "\n" + hex.EncodeToString(itemsHash[:]) + "\n"
}

// SignBatchReceipt returns the signed receipt of a batch of 1 to MaxBatchItems items.
func SignBatchReceipt(origin string, items []BatchItem, signer note.Signer) (BatchReceipt, error) {
	if len(items) == 0 || len(items) > MaxBatchItems {
		return BatchReceipt{}, fmt.Errorf("notary: a batch receipt covers 1 to %d items, not %d", MaxBatchItems, len(items))
	}
	sum := HashBatchItems(items)
	msg, err := note.Sign(&note.Note{Text: formatBatchReceipt(origin, len(items), sum)}, signer)
	if err != nil {
		return BatchReceipt{}, fmt.Errorf("notary: signing batch receipt: %v", err)
	}
	keyID, sig, err := noteSignature(msg)
	if err != nil {
		return BatchReceipt{}, fmt.Errorf("notary: signing batch receipt: %v", err)
	}
	return BatchReceipt{Origin: origin, Count: len(items), ItemsHash: sum, Note: string(msg), KeyID: keyID, Signature: sig}, nil
}

// ErrBatchMismatch is returned (wrapped) by OpenBatchReceipt when a correctly signed batch
// receipt does not cover the items given.
var ErrBatchMismatch = errors.New("notary: the batch receipt does not cover these items")

// OpenBatchReceipt checks a signed batch receipt against the service's verifier key (a
// note vkey) and the items it must cover, all of them, in order. It returns what the
// receipt states. A receipt that is well signed but covers other items (one changed,
// missing, added or moved) gives an error wrapping ErrBatchMismatch.
func OpenBatchReceipt(signed []byte, vkey string, items []BatchItem) (BatchReceipt, error) {
	lines, keyName, err := openNote(signed, vkey, "batch receipt")
	if err != nil {
		return BatchReceipt{}, err
	}
	if len(lines) != 4 || lines[0] != batchReceiptHeader {
		return BatchReceipt{}, errors.New("notary: not a notary batch receipt")
	}
	r := BatchReceipt{Origin: lines[1], Note: string(signed)}
	if r.Origin != keyName {
		return BatchReceipt{}, fmt.Errorf("notary: batch receipt origin %q is not the key's name %q", r.Origin, keyName)
	}
	if r.Count, err = strconv.Atoi(lines[2]); err != nil || r.Count < 1 || r.Count > MaxBatchItems {
		return BatchReceipt{}, errors.New("notary: batch receipt has a bad count")
	}
	sum, err := hex.DecodeString(lines[3])
	if err != nil || len(sum) != sha256.Size {
		return BatchReceipt{}, errors.New("notary: batch receipt has a bad items hash")
	}
	copy(r.ItemsHash[:], sum)
	if strings.Join(lines, "\n")+"\n" != formatBatchReceipt(r.Origin, r.Count, r.ItemsHash) {
		return BatchReceipt{}, errors.New("notary: batch receipt text is not in canonical form")
	}
	if r.KeyID, r.Signature, err = noteSignature(signed); err != nil {
		return BatchReceipt{}, fmt.Errorf("notary: batch receipt: %v", err)
	}
	if len(items) != r.Count {
		return BatchReceipt{}, fmt.Errorf("%w: it covers %d items, not %d", ErrBatchMismatch, r.Count, len(items))
	}
	if got := HashBatchItems(items); !bytes.Equal(got[:], r.ItemsHash[:]) {
		return BatchReceipt{}, fmt.Errorf("%w: the items hash differs", ErrBatchMismatch)
	}
	return r, nil
}
