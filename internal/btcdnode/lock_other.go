//go:build !unix

package btcdnode

// lockFile is a no-op where advisory file locks are not available; the in-process
// mutex in FindBinary still serializes builds within one process.
func lockFile(path string) (func(), error) { return func() {}, nil }
