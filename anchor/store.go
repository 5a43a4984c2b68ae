package anchor

import "context"

// Store persists the anchorer's state. The anchorer encodes its own records; a Store keeps
// them as opaque bytes.
type Store interface {
	// SaveAnchorState stores, in one durable transaction, the given anchor records (each
	// inserted or replaced by its ID) and, when wallet is not nil, the wallet state (coins,
	// scanned chain), replacing the previous one. When it returns nil the data survives a crash.
	SaveAnchorState(ctx context.Context, records []StoredRecord, wallet []byte) error
	// LoadAnchorState returns every saved record by ascending ID, and the saved wallet state
	// (nil if none was saved).
	LoadAnchorState(ctx context.Context) (records []StoredRecord, wallet []byte, err error)
}

// StoredRecord is one anchor record as a Store keeps it.
type StoredRecord struct {
	ID   int64
	Data []byte
}
