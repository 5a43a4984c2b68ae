package notary

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// openNote checks a signed note against the one verifier key vkey and returns the lines of
// its text (without the final newline every note text ends with) and the key's name. what
// names the kind of note in errors.
func openNote(signed []byte, vkey, what string) (lines []string, keyName string, err error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("notary: bad verifier key: %v", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return nil, "", fmt.Errorf("notary: %s signature: %v", what, err)
	}
	return strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n"), v.Name(), nil
}

// noteSignature returns the key hash and signature of the first signature line of a signed note.
func noteSignature(signed []byte) (uint32, []byte, error) {
	_, sigs, ok := strings.Cut(string(signed), "\n\n— ")
	if !ok {
		return 0, nil, errors.New("note has no signature line")
	}
	line, _, _ := strings.Cut(sigs, "\n")
	_, b64, ok := strings.Cut(line, " ")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(raw) != 4+ed25519.SignatureSize {
		return 0, nil, errors.New("note signature is not an Ed25519 signature")
	}
	return binary.BigEndian.Uint32(raw[:4]), raw[4:], nil
}
