package api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/notary"
)

// batchRequest is the body of POST /v1/timestamps/batch.
type batchRequest struct {
	Digests  digestList `json:"digests"`
	Callback string     `json:"callback"`
}

// BatchView is the answer to a batch submission: one item per digest, in the order
// submitted, and one signed batch receipt that covers them all.
type BatchView struct {
	Receipts []BatchItemView `json:"receipts"`
	Batch    BatchNoteView   `json:"batch"`
}

// BatchItemView is one digest's entry in the log.
type BatchItemView struct {
	Digest     string    `json:"digest"`
	Index      int64     `json:"index"`
	Received   time.Time `json:"received"`
	ReceivedMS int64     `json:"received_ms"`
	LeafHash   string    `json:"leaf_hash"`
}

// BatchNoteView is the JSON form of a signed batch receipt (notary.BatchReceipt).
type BatchNoteView struct {
	Note      string `json:"note"` // the signed note: text and signature line
	Origin    string `json:"origin"`
	Key       string `json:"key"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"` // base64 Ed25519 signature of the note's text
	Count     int    `json:"count"`
	ItemsHash string `json:"items_hash"` // hex SHA-256 of the items, as notary.HashBatchItems
}

func (h *handlers) submitBatch(c echo.Context) error {
	// The slot is held from reading the body to writing the last byte of the answer: a
	// client that sends or reads slowly holds it, and no more than it, as long as it does.
	release, err := h.batches.acquire(c, batchClient(c))
	if err != nil {
		return err
	}
	defer release()
	body, err := readBody(c, MaxBatchBodySize)
	if err != nil {
		return err
	}
	req, err := parseBatchRequest(body)
	if err != nil {
		return err
	}
	if len(req.Digests) == 0 {
		return apiError(codeBadRequest, "send 1 to %d digests in \"digests\"", MaxBatchDigests)
	}
	callback, err := h.callback(c, req.Callback)
	if err != nil {
		return err
	}
	refund, err := h.acc.digests(c, len(req.Digests))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	items, err := h.svc.SubmitItems(ctx, req.Digests)
	if err != nil {
		giveBackIf(err, refund)
		return err
	}
	h.metrics.digests.WithLabelValues("batch").Add(float64(len(items)))
	receipt, err := h.svc.SignBatchReceipt(items)
	if err != nil {
		return err
	}
	if callback.URL != "" {
		indexes := make([]int64, len(items))
		for i, it := range items {
			indexes[i] = it.Index
		}
		if err := h.register(c, callback, indexes, true); err != nil {
			return err
		}
	}
	return writeBatchView(c, items, batchNoteJSON(receipt, h.svc.VerifierKey()))
}

// batchChunk is how much of a batch answer (about 230 bytes a digest, 2.3 MB for a full
// batch) is held at once: it is written in pieces of this size, so that a client that
// reads slowly holds one piece, not the whole answer.
const batchChunk = 64 << 10

// batchBuffers holds the pieces batch answers are written in.
var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, batchChunk+1024); return &b }}

// writeBatchView answers the BatchView of items and note: byte for byte what json.Marshal
// writes, several times faster, in pieces of about batchChunk bytes.
func writeBatchView(c echo.Context, items []notary.BatchItem, note BatchNoteView) error {
	tail, err := json.Marshal(note)
	if err != nil {
		return err
	}
	buf := batchBuffers.Get().(*[]byte)
	defer batchBuffers.Put(buf)
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	res.WriteHeader(http.StatusOK)
	b := append((*buf)[:0], `{"receipts":[`...)
	var enc batchItemEncoder
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = enc.append(b, it)
		if len(b) >= batchChunk {
			if _, err := res.Write(b); err != nil {
				return err // the client is gone: nothing more to answer
			}
			b = b[:0]
		}
	}
	b = append(b, `],"batch":`...)
	b = append(b, tail...)
	b = append(b, '}')
	_, err = res.Write(b)
	*buf = b[:0]
	return err
}

// batchItemEncoder appends the JSON of BatchItemViews; consecutive items, mostly of one
// commit, share their received time, which it formats once.
type batchItemEncoder struct {
	lastMS   int64
	received []byte
}

func (e *batchItemEncoder) append(b []byte, it notary.BatchItem) []byte {
	if it.ReceivedMS != e.lastMS || e.received == nil {
		e.lastMS = it.ReceivedMS
		e.received = time.UnixMilli(it.ReceivedMS).UTC().AppendFormat(e.received[:0], time.RFC3339Nano)
	}
	b = append(b, `{"digest":"`...)
	b = hex.AppendEncode(b, it.Digest[:])
	b = append(b, `","index":`...)
	b = strconv.AppendInt(b, it.Index, 10)
	b = append(b, `,"received":"`...)
	b = append(b, e.received...)
	b = append(b, `","received_ms":`...)
	b = strconv.AppendInt(b, it.ReceivedMS, 10)
	b = append(b, `,"leaf_hash":"`...)
	b = hex.AppendEncode(b, it.LeafHash[:])
	return append(b, `"}`...)
}

func batchNoteJSON(r notary.BatchReceipt, vkey string) BatchNoteView {
	return BatchNoteView{
		Note:      r.Note,
		Origin:    r.Origin,
		Key:       vkey,
		KeyID:     fmt.Sprintf("%08x", r.KeyID),
		Signature: base64.StdEncoding.EncodeToString(r.Signature),
		Count:     r.Count,
		ItemsHash: hex.EncodeToString(r.ItemsHash[:]),
	}
}

// digestList is the "digests" array of a batch submission (see parseBatchRequest).
type digestList []notary.Digest

// digestError reports a malformed digest of a batch.
type digestError struct {
	index int
	err   error
}

func (e *digestError) Error() string { return fmt.Sprintf("digests[%d]: %v", e.index, e.err) }

// tooManyError reports a batch of more than MaxBatchDigests digests.
type tooManyError struct{}

func (*tooManyError) Error() string {
	return fmt.Sprintf("a batch takes at most %d digests", MaxBatchDigests)
}

// decodeHex decodes upper- or lower-case hex src into dst, len(src) = 2·len(dst).
func decodeHex(dst, src []byte) bool {
	src = src[:2*len(dst)]
	bad := byte(0)
	for k := range dst {
		hi, lo := hexValue[src[2*k]], hexValue[src[2*k+1]]
		bad |= hi | lo
		dst[k] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0
}

// hexValue maps a hex digit to its value and every other byte to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()
