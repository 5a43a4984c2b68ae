package notary

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
)

// receiptHeader is the first line of a receipt's signed text. It cannot be a checkpoint's
// origin line, so a receipt can never be passed off as a checkpoint or the other way round.
const receiptHeader = "notary-receipt/v1"

// Receipt is the service's signed promise that it logged a digest at a time: the log index,
// the receive time and the leaf hash (which commits to the entry's nonce). Like an RFC 3161
// token or a Certificate Transparency SCT, it is issued before the entry is in a checkpoint.
type Receipt struct {
	Origin   string
	Index    int64
	Time     time.Time
	Digest   Digest
	LeafHash merkle.Hash
	// Note is the signed note: the receipt's text followed by the Ed25519 signature line.
	Note string
	// KeyID and Signature are taken from Note's signature line: the signed-note key hash
	// and the 64-byte Ed25519 signature of the text.
	KeyID     uint32
	Signature []byte
}

// receiptText is the text that a receipt's signature covers.
func receiptText(origin string, e Entry) string {
	return formatReceipt(origin, e.Index, e.Time.UnixMilli(), e.Digest, e.LeafHash())
}

func formatReceipt(origin string, index, ms int64, d Digest, leaf merkle.Hash) string {
	return fmt.Sprintf("%s\n%s\n%d\n%d\n%s\n%s\n", receiptHeader, origin, index, ms, d, leaf)
}

// SignReceipt returns the signed receipt for entry e.
func SignReceipt(origin string, e Entry, signer note.Signer) (Receipt, error) {
	msg, err := note.Sign(&note.Note{Text: receiptText(origin, e)}, signer)
	if err != nil {
		return Receipt{}, fmt.Errorf("notary: signing receipt: %v", err)
	}
	keyID, sig, err := noteSignature(msg)
	if err != nil {
		return Receipt{}, fmt.Errorf("notary: signing receipt: %v", err)
	}
	return Receipt{
		Origin: origin, Index: e.Index, Time: e.Time,
		Digest: e.Digest, LeafHash: e.LeafHash(), Note: string(msg), KeyID: keyID, Signature: sig,
	}, nil
}

// OpenReceipt checks a signed receipt against the service's verifier key (a note vkey)
// and returns what it states.
func OpenReceipt(signed []byte, vkey string) (Receipt, error) {
	lines, keyName, err := openNote(signed, vkey, "receipt")
	if err != nil {
		return Receipt{}, err
	}
	if len(lines) != 6 || lines[0] != receiptHeader {
		return Receipt{}, errors.New("notary: not a notary receipt")
	}
	r := Receipt{Origin: lines[1], Note: string(signed)}
	if r.KeyID, r.Signature, err = noteSignature(signed); err != nil {
		return Receipt{}, fmt.Errorf("notary: receipt: %v", err)
	}
	if r.Index, err = strconv.ParseInt(lines[2], 10, 64); err != nil || r.Index < 0 {
		return Receipt{}, errors.New("notary: receipt has a bad index")
	}
	ms, err := strconv.ParseInt(lines[3], 10, 64)
	if err != nil {
		return Receipt{}, errors.New("notary: receipt has a bad time")
	}
	r.Time = time.UnixMilli(ms).UTC()
	if r.Digest, err = ParseDigest(lines[4]); err != nil {
		return Receipt{}, fmt.Errorf("notary: receipt: %v", err)
	}
	if r.LeafHash, err = merkle.ParseHash(lines[5]); err != nil {
		return Receipt{}, fmt.Errorf("notary: receipt: %v", err)
	}
	if r.Origin != keyName {
		return Receipt{}, fmt.Errorf("notary: receipt origin %q is not the key's name %q", r.Origin, keyName)
	}
	if strings.Join(lines, "\n")+"\n" != formatReceipt(r.Origin, r.Index, ms, r.Digest, r.LeafHash) {
		return Receipt{}, errors.New("notary: receipt text is not in canonical form")
	}
	return r, nil
}
