package anchor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets", "anchor")
	path := filepath.Join(dir, "key")

	key, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("key directory mode %v (%v), want 0700", di.Mode().Perm(), err)
	}
	data, _ := os.ReadFile(path)
	if len(data) != 65 || data[64] != '\n' {
		t.Errorf("key file %q: want 64 hex digits and a newline", data)
	}

	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Serialize(), key.Serialize()) {
		t.Error("second load returned another key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the key", len(entries))
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v, want a refusal", err)
	}
}

func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	const n = 8
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k.Serialize()
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatal("concurrent callers got different keys")
		}
	}
}

func TestParseKey(t *testing.T) {
	valid := strings.Repeat("01", 32)
	for _, tt := range []struct {
		name string
		data string
		ok   bool
	}{
		{"with newline", valid + "\n", true},
		{"without newline", valid, true},
		{"two newlines", valid + "\n\n", false},
		{"CRLF", valid + "\r\n", false},
		{"short", valid[:62], false},
		{"not hex", strings.Repeat("zz", 32), false},
		{"zero", strings.Repeat("00", 32), false},
		{"group order", "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseKey([]byte(tt.data)); (err == nil) != tt.ok {
				t.Errorf("ParseKey(%q) = %v, want ok=%v", tt.data, err, tt.ok)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add([]byte(strings.Repeat("01", 32) + "\n"))
	f.Add([]byte("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParseKey(data)
		if err != nil {
			return
		}
		// A valid key file is canonical modulo hex case and the newline.
		if got := strings.ToLower(strings.TrimSuffix(string(data), "\n")); got != strings.ToLower(hexString(key.Serialize())) {
			t.Errorf("ParseKey(%q) gave key %x", data, key.Serialize())
		}
	})
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
