package notary

import (
	"encoding/hex"
	"strconv"
	"unicode/utf8"

	"github.com/notary-dev/notary/merkle"
)

// AppendJSON appends p to b as compact JSON: the very bytes json.Marshal gives, without
// the cost of reflection, since every submission is answered with a proof.
func (p *Proof) AppendJSON(b []byte) []byte {
	b = append(b, `{"format":`...)
	b = AppendJSONString(b, p.Format)
	b = append(b, `,"digest":"`...)
	b = hex.AppendEncode(b, p.Digest[:])
	b = append(b, `","entry":{"index":`...)
	b = strconv.AppendInt(b, p.Entry.Index, 10)
	b = append(b, `,"received_ms":`...)
	b = strconv.AppendInt(b, p.Entry.ReceivedMS, 10)
	b = append(b, `,"nonce":"`...)
	b = hex.AppendEncode(b, p.Entry.Nonce)
	b = append(b, `"},"log":{"key":`...)
	b = AppendJSONString(b, p.Log.Key)
	b = append(b, `,"checkpoint":`...)
	b = AppendJSONString(b, p.Log.Checkpoint)
	b = append(b, `,"inclusion":`...)
	b = appendHashes(b, p.Log.Inclusion)
	b = append(b, '}')
	if c := p.Bitcoin; c != nil {
		b = append(b, `,"bitcoin":{"network":`...)
		b = AppendJSONString(b, c.Network)
		b = append(b, `,"tx":"`...)
		b = hex.AppendEncode(b, c.Tx)
		b = append(b, `","tx_index":`...)
		b = strconv.AppendInt(b, int64(c.TxIndex), 10)
		b = append(b, `,"branch":`...)
		b = appendHashes(b, c.Branch)
		b = append(b, `,"header":"`...)
		b = hex.AppendEncode(b, c.Header)
		b = append(b, `","height":`...)
		b = strconv.AppendInt(b, c.Height, 10)
		b = append(b, '}')
	}
	if p.Service != "" {
		b = append(b, `,"service":`...)
		b = AppendJSONString(b, p.Service)
	}
	return append(b, '}')
}

// appendHashes appends hs as a JSON array of hex strings, or null if hs is nil, as
// json.Marshal does.
func appendHashes(b []byte, hs []merkle.Hash) []byte {
	if hs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hex.AppendEncode(b, h[:])
		b = append(b, '"')
	}
	return append(b, ']')
}

// AppendJSONString appends s to b as a JSON string, escaped exactly as json.Marshal
// escapes it: HTML-safe, with invalid UTF-8 replaced by U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is yet to be copied
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control characters, and <, > and &
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
