//go:build !unix

package api_test

import "time"

// cpuTime is not measured here: the benchmarks report cpu-µs/req as 0.
func cpuTime() time.Duration { return 0 }
