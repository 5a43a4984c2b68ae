package api

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/notary-dev/notary/notary"
)

// ReceiptView is the JSON form of a signed receipt.
type ReceiptView struct {
	Digest     string    `json:"digest"`
	Index      int64     `json:"index"`
	Received   time.Time `json:"received"`
	ReceivedMS int64     `json:"received_ms"`
	LeafHash   string    `json:"leaf_hash"`
	Origin     string    `json:"origin"`
	KeyID      string    `json:"key_id"`
	Key        string    `json:"key"`
	Signature  string    `json:"signature"` // base64 Ed25519 signature of the receipt text
	Note       string    `json:"note"`      // the signed note: text and signature line
}

func receiptJSON(r notary.Receipt, vkey string) ReceiptView {
	return ReceiptView{
		Digest:     r.Digest.String(),
		Index:      r.Index,
		Received:   r.Time.UTC(),
		ReceivedMS: r.Time.UnixMilli(),
		LeafHash:   r.LeafHash.String(),
		Origin:     r.Origin,
		KeyID:      fmt.Sprintf("%08x", r.KeyID),
		Key:        vkey,
		Signature:  base64.StdEncoding.EncodeToString(r.Signature),
		Note:       r.Note,
	}
}

// AnchorView is the JSON form of a Bitcoin anchor.
type AnchorView struct {
	Status        notary.AnchorStatus `json:"status"`
	TxID          string              `json:"txid"`
	LogSize       int64               `json:"log_size"`
	Fee           int64               `json:"fee_sat"`
	Replacements  int                 `json:"replacements"`
	Height        int64               `json:"height,omitempty"`
	Confirmations int64               `json:"confirmations"`
}

func anchorJSON(a *notary.Anchor) *AnchorView {
	if a == nil {
		return nil
	}
	return &AnchorView{
		Status: a.Status, TxID: a.TxID, LogSize: a.Size, Fee: a.Fee,
		Replacements: a.Replacements, Height: a.Height, Confirmations: a.Confirmations,
	}
}

// TimestampView is the JSON answer to a lookup.
type TimestampView struct {
	Digest  string        `json:"digest"`
	Status  notary.Status `json:"status"`
	Receipt ReceiptView   `json:"receipt"`
	Anchor  *AnchorView   `json:"anchor,omitempty"`
	// Proof is the whole proof document: complete once Status is "confirmed".
	Proof *notary.Proof `json:"proof,omitempty"`
}

func timestampJSON(ts *notary.Timestamp, vkey string) TimestampView {
	return TimestampView{
		Digest:  ts.Entry.Digest.String(),
		Status:  ts.Status,
		Receipt: receiptJSON(ts.Receipt, vkey),
		Anchor:  anchorJSON(ts.Anchor),
		Proof:   ts.Proof,
	}
}
