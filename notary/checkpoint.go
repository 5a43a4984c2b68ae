package notary

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
)

// Checkpoint is a signed statement of the log's size and root hash, in the C2SP
// tlog-checkpoint format: the note text is "origin\nsize\nbase64(root)\n", signed with Ed25519
// by a key whose name is the origin.
type Checkpoint struct {
	Origin string      // the log's name, also the signing key's name
	Size   int64       // number of entries
	Root   merkle.Hash // RFC 6962 root of the first Size entries
	Note   []byte      // the signed note, exactly as published
}

func checkpointText(origin string, size int64, root merkle.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// SignCheckpoint returns the signed checkpoint of a log of the given size and root.
func SignCheckpoint(size int64, root merkle.Hash, signer note.Signer) (Checkpoint, error) {
	origin := signer.Name()
	msg, err := note.Sign(&note.Note{Text: checkpointText(origin, size, root)}, signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("notary: signing checkpoint: %v", err)
	}
	return Checkpoint{Origin: origin, Size: size, Root: root, Note: msg}, nil
}

// Signature returns the key hash and the Ed25519 signature of the checkpoint's first
// signature line.
func (c Checkpoint) Signature() (keyID uint32, sig []byte, err error) {
	if keyID, sig, err = noteSignature(c.Note); err != nil {
		return 0, nil, fmt.Errorf("notary: checkpoint: %v", err)
	}
	return keyID, sig, nil
}

// OpenCheckpoint checks a signed checkpoint against the log's verifier key and parses it.
// The text must be exactly origin, size and root: extension lines are refused.
func OpenCheckpoint(signed []byte, vkey string) (Checkpoint, error) {
	lines, keyName, err := openNote(signed, vkey, "checkpoint")
	if err != nil {
		return Checkpoint{}, err
	}
	if len(lines) != 3 {
		return Checkpoint{}, errors.New("notary: checkpoint must have exactly three lines: origin, size, root")
	}
	c := Checkpoint{Origin: lines[0], Note: signed}
	if c.Origin != keyName {
		return Checkpoint{}, fmt.Errorf("notary: checkpoint origin %q is not the key's name %q", c.Origin, keyName)
	}
	if c.Size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || c.Size < 0 || strconv.FormatInt(c.Size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("notary: checkpoint size %q is not a canonical number", lines[1])
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != merkle.HashSize {
		return Checkpoint{}, errors.New("notary: checkpoint root is not a base64 SHA-256 hash")
	}
	copy(c.Root[:], root)
	return c, nil
}
