package service

import (
	"testing"
	"time"
)

// SetIndexPace makes the digest index move in chunks of at least chunk entries, or every
// idle, until the test and every cleanup registered after this call have ended.
func SetIndexPace(tb testing.TB, chunk int64, idle time.Duration) {
	oldChunk, oldIdle := minIndexChunk, indexIdle
	minIndexChunk, indexIdle = chunk, idle
	tb.Cleanup(func() { minIndexChunk, indexIdle = oldChunk, oldIdle })
}
