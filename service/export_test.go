package service

import (
	"testing"
	"time"
)

// SetIndexPace makes the digest index move in chunks of at least chunk entries, or every
// idle, and the recent digests keep keep indexed entries, until the test and every
// cleanup registered after this call have ended.
func SetIndexPace(tb testing.TB, chunk int64, idle time.Duration, keep int64) {
	oldChunk, oldIdle, oldKeep := minIndexChunk, indexIdle, keepIndexed
	minIndexChunk, indexIdle, keepIndexed = chunk, idle, keep
	tb.Cleanup(func() { minIndexChunk, indexIdle, keepIndexed = oldChunk, oldIdle, oldKeep })
}
