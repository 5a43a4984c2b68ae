package anchor

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/merkle"
)

// sampleState returns a state with a mined record of two versions and some coins.
func sampleState(t testing.TB) *state {
	key := newTestKey(t)
	script := pkScript(key)
	f := newFollower(script, 5, 0)
	s := newState(f, nil, 2)
	var tip chainhash.Hash
	var first *wire.MsgBlock
	for h := int64(5); h < 110; h++ {
		blk := makeBlock(tip, h, script)
		if first == nil {
			first = blk
		}
		if err := s.connect(h, blk); err != nil {
			t.Fatal(err)
		}
		tip = blk.BlockHash()
	}
	op := coinbaseOut(first)
	in := spendable{OutPoint: op, Value: 50e8}
	created := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC)
	tx1, _ := buildAnchorTx(key, in, Payload([]byte("t"), rootOf(3)), 300)
	tx2, _ := buildAnchorTx(key, in, Payload([]byte("t"), rootOf(4)), 600)
	r := &record{ID: 1, Created: created, Pending: created.Add(time.Hour), OutPoint: op, Value: 50e8, Current: 1, Versions: []*version{
		{Tx: serialize(tx1), TxID: tx1.TxHash(), Size: 3, Root: rootOf(3), Fee: 300, VSize: vsize(tx1), Created: created},
		{Tx: serialize(tx2), TxID: tx2.TxHash(), Size: 4, Root: rootOf(4), Fee: 600, VSize: vsize(tx2), Created: created.Add(time.Hour), Rejected: "too low"},
	}}
	s.add(r)
	blk := makeBlock(tip, 110, otherScript, tx1)
	if err := s.connect(110, blk); err != nil {
		t.Fatal(err)
	}
	if r.Mined == nil {
		t.Fatal("record not mined")
	}
	return s
}

func TestRecordRoundTrip(t *testing.T) {
	s := sampleState(t)
	r := s.records[0]
	data := encodeRecord(r)
	back, err := decodeRecord(r.ID, data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, r)
	}
	if !bytes.Equal(encodeRecord(back), data) {
		t.Error("re-encoding changed the bytes")
	}

	w := encodeWallet(s.f)
	f, err := decodeWallet(w, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, s.f) {
		t.Errorf("wallet round trip differs")
	}
	if !bytes.Equal(encodeWallet(f), w) {
		t.Error("re-encoding the wallet changed the bytes")
	}
}

func TestDecodeRecordStrict(t *testing.T) {
	s := sampleState(t)
	good := string(encodeRecord(s.records[0]))
	for _, tt := range []struct {
		name string
		data string
		id   int64
	}{
		{"wrong ID", good, 2},
		{"unknown field", strings.Replace(good, `{"format":1,`, `{"format":1,"extra":0,`, 1), 1},
		{"future format", strings.Replace(good, `"format":1`, `"format":2`, 1), 1},
		{"trailing data", good + "{}", 1},
		{"current out of range", strings.Replace(good, `"current":0`, `"current":5`, 1), 1},
		{"bad outpoint", strings.Replace(good, `"outpoint":"`, `"outpoint":"x`, 1), 1},
		{"no versions", strings.Replace(good, `"versions":[`, `"versions":[],"x":[`, 1), 1},
		{"not JSON", "garbage", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data == good && tt.id == 1 {
				t.Fatal("test case does not change anything")
			}
			if _, err := decodeRecord(tt.id, []byte(tt.data)); err == nil {
				t.Errorf("decodeRecord accepted %s", tt.data)
			}
		})
	}
}

func TestDecodeRecordOtherCoin(t *testing.T) {
	s := sampleState(t)
	r := *s.records[0]
	r.OutPoint.Index++
	if _, err := decodeRecord(r.ID, encodeRecord(&r)); err == nil {
		t.Error("a record whose transactions spend another coin was accepted")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	s := sampleState(f)
	f.Add(encodeRecord(s.records[0]))
	f.Add([]byte(`{"format":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(1, data)
		if err != nil {
			return
		}
		back, err := decodeRecord(1, encodeRecord(r))
		if err != nil {
			t.Fatalf("re-decoding an accepted record: %v", err)
		}
		r.effective()
		r.anchor(1, 1, "regtest")
		_ = back
	})
}

func FuzzDecodeWallet(f *testing.F) {
	s := sampleState(f)
	f.Add(encodeWallet(s.f))
	f.Add([]byte(`{"format":1,"script":"","start":0,"blocks":[],"coins":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := decodeWallet(data, 0)
		if err != nil {
			return
		}
		if _, err := decodeWallet(encodeWallet(w), 0); err != nil {
			t.Fatalf("re-decoding an accepted wallet: %v", err)
		}
		w.unspent()
		w.confirmations(3, chainhash.Hash{})
	})
}

func TestAttestationFromState(t *testing.T) {
	s := sampleState(t)
	r := s.records[0]
	a := r.anchor(s.confirmations(r), s.depth, "regtest")
	if a.Size != 3 || a.Root != rootOf(3) || a.Replacements != 0 || a.Fee != 300 {
		t.Errorf("anchor = %+v: want the mined version 0, and no replacement counted for the rejected one", a)
	}
	tx, _ := parseTx(r.Versions[0].Tx)
	if merkle.DoubleSHA256(a.Bitcoin.Tx) != merkle.Hash(tx.TxHash()) {
		t.Error("attestation tx is not the non-witness serialization")
	}
}
