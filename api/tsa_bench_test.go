package api_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"testing"

	"github.com/notary-dev/notary/tsa"
)

// BenchmarkTSA measures RFC 3161 tokens a second from benchClients (64) clients over
// real HTTP on loopback: each request logs a new imprint in SQLite, waits until it is
// durable and gets a token signed with ECDSA P-256. Run it with
//
//	go test ./api -run '^$' -bench '^BenchmarkTSA$' -benchtime 5s -count 5
//
// Its req/s is tokens a second.
func BenchmarkTSA(b *testing.B) {
	s := newTSAStack(b)
	client := newBenchClient(b)
	var run [8]byte
	rand.Read(run[:])
	runLoad(b, func(_, i int) error {
		var seed [16]byte
		copy(seed[:], run[:])
		binary.BigEndian.PutUint64(seed[8:], uint64(i))
		d := sha256.Sum256(seed[:])
		q, err := (&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:], Nonce: bigNonce(i), CertReq: true}).Marshal()
		if err != nil {
			return err
		}
		resp, err := client.Post(s.url+"/tsa", "application/timestamp-query", bytes.NewReader(q))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST /tsa: status %d", resp.StatusCode)
		}
		r, err := tsa.ParseResponse(body)
		if err != nil || r.Token == nil {
			return fmt.Errorf("POST /tsa: not a granted token: %v %+v", err, r)
		}
		return nil
	})
}

func bigNonce(i int) *big.Int { return new(big.Int).SetUint64(uint64(i)<<32 | 0x5a5a) }
