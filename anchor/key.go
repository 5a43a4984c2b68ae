package anchor

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// The key file holds the 32-byte secp256k1 private key as 64 lower-case hex digits
// and a newline, nothing else. The same key serves every network.

// LoadOrCreateKey reads the private key at path, creating a new random one if the
// file does not exist. A new file is written with mode 0600 in a directory created
// with mode 0700, atomically: a concurrent caller or a crash never leaves a partial
// key. An existing file readable by group or others is refused.
func LoadOrCreateKey(path string) (*btcec.PrivateKey, error) {
	key, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("anchor: key: %w", err)
	}
	key, err = btcec.NewPrivateKey()
	if err != nil {
		return nil, fmt.Errorf("anchor: key: %w", err)
	}
	data := []byte(hex.EncodeToString(key.Serialize()) + "\n")
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid()) + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := writeSynced(tmp, data); err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	// Link fails if someone else created the key meanwhile: theirs wins.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadKey(path)
		}
		return nil, fmt.Errorf("anchor: key: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return key, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("anchor: key: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("anchor: key: %w", err)
	}
	return nil
}

func loadKey(path string) (*btcec.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err // fs.ErrNotExist passes through for the caller
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("anchor: key file %s has mode %v: it must not be readable by others (chmod 600)",
			path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("anchor: key: %w", err)
	}
	return ParseKey(data)
}

// ParseKey decodes a key file's contents: 64 hex digits, optionally followed by one newline.
func ParseKey(data []byte) (*btcec.PrivateKey, error) {
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) != 64 {
		return nil, errors.New("anchor: key file must hold 64 hex digits")
	}
	raw := make([]byte, 32)
	if _, err := hex.Decode(raw, data); err != nil {
		return nil, errors.New("anchor: key file is not hex")
	}
	var scalar btcec.ModNScalar
	if overflow := scalar.SetByteSlice(raw); overflow || scalar.IsZero() {
		return nil, errors.New("anchor: key file holds an invalid secp256k1 private key")
	}
	key, _ := btcec.PrivKeyFromBytes(raw)
	return key, nil
}

// Address returns the pay-to-witness-pubkey-hash (P2WPKH, bech32) address of key on
// the network params: where the notary is funded.
func Address(key *btcec.PrivateKey, params *chaincfg.Params) (*address.AddressWitnessPubKeyHash, error) {
	addr, err := address.NewAddressWitnessPubKeyHash(address.Hash160(key.PubKey().SerializeCompressed()), params)
	if err != nil {
		return nil, fmt.Errorf("anchor: address: %w", err)
	}
	return addr, nil
}

// pkScript returns the output script paying key (P2WPKH).
func pkScript(key *btcec.PrivateKey) []byte {
	addr, err := address.NewAddressWitnessPubKeyHash(address.Hash160(key.PubKey().SerializeCompressed()), &chaincfg.MainNetParams)
	if err != nil {
		panic("anchor: a 20-byte hash is always a valid witness program")
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		panic("anchor: P2WPKH script: " + err.Error())
	}
	return script
}
