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
	if err := checkKeyForm(vkey); err != nil {
		return nil, "", fmt.Errorf("notary: bad verifier key: %v", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return nil, "", fmt.Errorf("notary: %s signature: %v", what, err)
	}
	if err := checkSignatureForm(signed); err != nil {
		return nil, "", fmt.Errorf("notary: %s signature: %v", what, err)
	}
	return strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n"), v.Name(), nil
}

// checkKeyForm refuses a verifier key that note.NewVerifier reads but would not write: its
// key hash other than 8 lower-case hex digits, its key other than canonical base64 (line
// breaks in it, which base64 decoders skip, included). Each key has one text form.
func checkKeyForm(vkey string) error {
	_, rest, _ := strings.Cut(vkey, "+")
	hash, key64, _ := strings.Cut(rest, "+")
	if len(hash) != 8 || strings.Trim(hash, "0123456789abcdef") != "" {
		return fmt.Errorf("key hash %q is not 8 lower-case hex digits", hash)
	}
	if !canonicalBase64(key64) {
		return errors.New("key is not in canonical base64")
	}
	return nil
}

// checkSignatureForm refuses a signed note (one note.Open accepted) whose signatures are
// not in canonical base64: one signature, one text.
func checkSignatureForm(signed []byte) error {
	s := string(signed)
	sigs := s[strings.LastIndex(s, "\n\n")+2:]
	for line := range strings.Lines(sigs) {
		line = strings.TrimSuffix(strings.TrimPrefix(line, "— "), "\n")
		if _, b64, _ := strings.Cut(line, " "); !canonicalBase64(b64) {
			return errors.New("signature is not in canonical base64")
		}
	}
	return nil
}

// canonicalBase64 reports whether s is the standard, padded base64 encoding of what it
// decodes to: no line breaks, no stray padding bits.
func canonicalBase64(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && base64.StdEncoding.EncodeToString(b) == s
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
