package ots_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/notary-dev/notary/ots"
)

// seedFiles adds every golden .ots file to f's corpus.
func seedFiles(f *testing.F, add func(data []byte)) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.ots"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no golden files (%v)", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(data)
	}
}

// FuzzParseFile checks that the parser never panics and that whatever it accepts marshals
// into a file it accepts again, as the same tree, and that marshals to the same bytes.
func FuzzParseFile(f *testing.F) {
	seedFiles(f, func(data []byte) { f.Add(data) })
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ots.ParseFile(data)
		if err != nil {
			return
		}
		out, err := file.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed but cannot marshal: %v", err)
		}
		again, err := ots.ParseFile(out)
		if err != nil {
			t.Fatalf("marshalled file does not parse: %v", err)
		}
		if again.HashOp != file.HashOp || !again.Timestamp.Equal(file.Timestamp) {
			t.Fatal("marshalled file parses to another tree")
		}
		out2, err := again.MarshalBinary()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("marshalling is not stable (%v)", err)
		}
	})
}

// FuzzParseTimestamp does the same for bare timestamps, as calendars answer them.
func FuzzParseTimestamp(f *testing.F) {
	seedFiles(f, func(data []byte) {
		if file, err := ots.ParseFile(data); err == nil {
			tree, _ := file.Timestamp.MarshalBinary()
			f.Add(tree, file.Digest())
		}
	})
	f.Add([]byte{0x00}, []byte{})
	f.Fuzz(func(t *testing.T, data, msg []byte) {
		ts, err := ots.ParseTimestamp(data, msg)
		if err != nil {
			return
		}
		if !bytes.Equal(ts.Msg, msg) {
			t.Fatal("the root message is not the one given")
		}
		out, err := ts.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed but cannot marshal: %v", err)
		}
		again, err := ots.ParseTimestamp(out, msg)
		if err != nil || !again.Equal(ts) {
			t.Fatalf("marshalled timestamp does not parse back to the same tree (%v)", err)
		}
	})
}
