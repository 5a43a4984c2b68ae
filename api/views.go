package api

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// AnchorView is the JSON form of a Bitcoin anchor.
type AnchorView struct {
	Status        service.AnchorStatus `json:"status"`
	TxID          string               `json:"txid"`
	LogSize       int64                `json:"log_size"`
	Root          merkle.Hash          `json:"root"`
	Fee           int64                `json:"fee_sat"`
	Replacements  int                  `json:"replacements"`
	Height        int64                `json:"height,omitempty"`
	Confirmations int64                `json:"confirmations"`
}

func anchorJSON(a *service.Anchor) *AnchorView {
	if a == nil {
		return nil
	}
	return &AnchorView{
		Status: a.Status, TxID: a.TxID, LogSize: a.Size, Root: a.Root, Fee: a.Fee,
		Replacements: a.Replacements, Height: a.Height, Confirmations: a.Confirmations,
	}
}

// TimestampView is the JSON answer to a submission (the receipt) and to a lookup.
type TimestampView struct {
	Digest     string         `json:"digest"`
	Status     service.Status `json:"status"`
	Index      int64          `json:"index"`
	Received   time.Time      `json:"received"`
	ReceivedMS int64          `json:"received_ms"`
	LeafHash   string         `json:"leaf_hash"`
	// LogSize, KeyID and Signature are those of the signed checkpoint in Proof, which
	// includes the entry; absent while no checkpoint does (a lookup's first second or so).
	LogSize   int64       `json:"log_size,omitempty"`
	KeyID     string      `json:"key_id,omitempty"`
	Signature string      `json:"signature,omitempty"` // base64 Ed25519 signature of the checkpoint
	Anchor    *AnchorView `json:"anchor,omitempty"`
	// Proof is the whole proof document: a signed pending proof at first, complete once
	// Status is "confirmed".
	Proof *notary.Proof `json:"proof,omitempty"`
}

// BatchWebhookView is the body of a batch's webhook: the timestamps of its digests, in the
// order sent. (A single submission's webhook is its TimestampView.)
type BatchWebhookView struct {
	Timestamps []TimestampView `json:"timestamps"`
}

// TimestampJSON returns ts as GET /v1/timestamps/{digest} answers it: compact JSON of
// its TimestampView. It is the body of a webhook's delivery.
func TimestampJSON(ts *service.Timestamp) ([]byte, error) {
	v, err := timestampJSON(ts)
	if err != nil {
		return nil, err
	}
	return v.appendJSON(nil), nil
}

func timestampJSON(ts *service.Timestamp) (TimestampView, error) {
	e := ts.Entry
	v := TimestampView{
		Digest:     e.Digest.String(),
		Status:     ts.Status,
		Index:      e.Index,
		Received:   e.Time.UTC(),
		ReceivedMS: e.Time.UnixMilli(),
		LeafHash:   e.LeafHash().String(),
		Anchor:     anchorJSON(ts.Anchor),
		Proof:      ts.Proof,
	}
	if cp := ts.Checkpoint; cp != nil {
		keyID, sig, err := cp.Signature()
		if err != nil {
			return TimestampView{}, err
		}
		v.LogSize = cp.Size
		v.KeyID = fmt.Sprintf("%08x", keyID)
		v.Signature = base64.StdEncoding.EncodeToString(sig)
	}
	return v, nil
}

// answerTimestamp answers ts as JSON.
func answerTimestamp(c echo.Context, ts *service.Timestamp) error {
	v, err := timestampJSON(ts)
	if err != nil {
		return err
	}
	buf := jsonBuffers.Get().(*[]byte)
	defer jsonBuffers.Put(buf)
	*buf = append(v.appendJSON((*buf)[:0]), '\n')
	return c.JSONBlob(http.StatusOK, *buf)
}

// jsonBuffers holds buffers for answers written by hand, which the response writer has
// copied by the time JSONBlob returns.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendJSON appends v to b as compact JSON: the bytes json.Marshal gives, written
// directly since every submission is answered with one.
func (v *TimestampView) appendJSON(b []byte) []byte {
	b = append(b, `{"digest":`...)
	b = notary.AppendJSONString(b, v.Digest)
	b = append(b, `,"status":`...)
	b = notary.AppendJSONString(b, string(v.Status))
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, v.Index, 10)
	b = append(b, `,"received":"`...)
	b = v.Received.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","received_ms":`...)
	b = strconv.AppendInt(b, v.ReceivedMS, 10)
	b = append(b, `,"leaf_hash":`...)
	b = notary.AppendJSONString(b, v.LeafHash)
	if v.LogSize != 0 {
		b = append(b, `,"log_size":`...)
		b = strconv.AppendInt(b, v.LogSize, 10)
	}
	if v.KeyID != "" {
		b = append(b, `,"key_id":`...)
		b = notary.AppendJSONString(b, v.KeyID)
	}
	if v.Signature != "" {
		b = append(b, `,"signature":`...)
		b = notary.AppendJSONString(b, v.Signature)
	}
	if a := v.Anchor; a != nil {
		b = append(b, `,"anchor":{"status":`...)
		b = notary.AppendJSONString(b, string(a.Status))
		b = append(b, `,"txid":`...)
		b = notary.AppendJSONString(b, a.TxID)
		b = append(b, `,"log_size":`...)
		b = strconv.AppendInt(b, a.LogSize, 10)
		b = append(b, `,"root":"`...)
		b = hex.AppendEncode(b, a.Root[:])
		b = append(b, `","fee_sat":`...)
		b = strconv.AppendInt(b, a.Fee, 10)
		b = append(b, `,"replacements":`...)
		b = strconv.AppendInt(b, int64(a.Replacements), 10)
		if a.Height != 0 {
			b = append(b, `,"height":`...)
			b = strconv.AppendInt(b, a.Height, 10)
		}
		b = append(b, `,"confirmations":`...)
		b = strconv.AppendInt(b, a.Confirmations, 10)
		b = append(b, '}')
	}
	if v.Proof != nil {
		b = append(b, `,"proof":`...)
		b = v.Proof.AppendJSON(b)
	}
	return append(b, '}')
}
