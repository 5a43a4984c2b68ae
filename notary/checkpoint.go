package notary

import "github.com/notary-dev/notary/merkle"

// Checkpoint is a signed statement of the log's size and root hash, in the C2SP
// tlog-checkpoint format: the note text is "origin\nsize\nbase64(root)\n", signed with Ed25519.
type Checkpoint struct {
	Origin string      // the log's name, also the signing key's name
	Size   int64       // number of entries
	Root   merkle.Hash // RFC 6962 root of the first Size entries
	Note   []byte      // the signed note, exactly as published
}
