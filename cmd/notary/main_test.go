package main

import (
	"testing"

	"github.com/notary-dev/notary/internal/pgtest"
)

// TestMain stops the PostgreSQL server the tests share, if one was started.
func TestMain(m *testing.M) { pgtest.Main(m) }
