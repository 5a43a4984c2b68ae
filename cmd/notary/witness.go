package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/witness"
)

// witnessFlags are serve's witness settings.
type witnessFlags struct {
	specs   []string
	quorum  int
	timeout time.Duration
}

func (f *witnessFlags) register(fs *flag.FlagSet) {
	fs.Func("witness", "send every new checkpoint to the C2SP tlog-witness `\"NAME URL VKEY\"` and publish its cosignature: NAME a label for\n"+
		"logs and /v1/status, URL the witness's prefix (add-checkpoint is POSTed below it), VKEY its cosignature/v1 key;\n"+
		"repeatable, at most 16; several separated by ';' in NOTARY_WITNESS or --config (see docs/witnesses.md)", func(s string) error {
		for spec := range strings.SplitSeq(s, ";") {
			if spec = strings.TrimSpace(spec); spec != "" {
				f.specs = append(f.specs, spec)
			}
		}
		return nil
	})
	fs.IntVar(&f.quorum, "witness-quorum", 0, "how many witnesses must cosign a checkpoint for it to be published cosigned (default: all of them)")
	fs.DurationVar(&f.timeout, "witness-timeout", 10*time.Second, "how long one request to a witness may take")
}

// pool returns the witnesses configured, or nil if none is.
func (f *witnessFlags) pool(log *slog.Logger) (*witness.Pool, error) {
	if len(f.specs) == 0 {
		if f.quorum != 0 {
			return nil, usageError("--witness-quorum %d without any --witness", f.quorum)
		}
		return nil, nil
	}
	ws := make([]witness.Witness, len(f.specs))
	for i, s := range f.specs {
		w, err := witness.Parse(s)
		if err != nil {
			return nil, usageError("--witness: %v", err)
		}
		ws[i] = w
	}
	if f.quorum < 0 || f.quorum > len(ws) {
		return nil, usageError("--witness-quorum %d: it must be from 1 to the number of witnesses, %d", f.quorum, len(ws))
	}
	if f.timeout <= 0 {
		return nil, usageError("--witness-timeout must be positive")
	}
	p, err := witness.New(witness.Config{Witnesses: ws, Quorum: f.quorum, Timeout: f.timeout, Logger: log})
	if err != nil {
		return nil, usageError("--witness: %v", err)
	}
	return p, nil
}

// witnessVerifyFlags are verify's witness settings.
type witnessVerifyFlags struct {
	keys   []string
	quorum int
}

func (f *witnessVerifyFlags) register(fs *flag.FlagSet) {
	fs.Func("witness-key", "require the cosignature of the witness `VKEY` (cosignature/v1) on a pending proof's checkpoint; repeatable", func(s string) error {
		f.keys = append(f.keys, s)
		return nil
	})
	fs.IntVar(&f.quorum, "witness-quorum", 0, "how many of the --witness-key witnesses must have cosigned (default: all of them)")
}

// witnessPolicy is what verify requires of a proof's cosignatures.
type witnessPolicy struct {
	keys   []*notary.CosignatureVerifier
	quorum int
}

func (f *witnessVerifyFlags) parse() (witnessPolicy, error) {
	var p witnessPolicy
	for _, k := range f.keys {
		v, err := notary.NewCosignatureVerifier(k)
		if err != nil {
			return p, &cliError{code: exitUsage, err: fmt.Errorf("--witness-key: %v", err),
				hint: "a witness key reads name+hash+key, the key's type byte 0x04 (cosignature/v1), as the witness's operator publishes it"}
		}
		if !slices.ContainsFunc(p.keys, func(o *notary.CosignatureVerifier) bool { return o.String() == v.String() }) {
			p.keys = append(p.keys, v)
		}
	}
	p.quorum = f.quorum
	switch {
	case len(p.keys) == 0 && f.quorum != 0:
		return p, usageError("--witness-quorum %d without any --witness-key", f.quorum)
	case f.quorum < 0 || f.quorum > len(p.keys):
		return p, usageError("--witness-quorum %d: it must be from 1 to the number of witness keys given, %d", f.quorum, len(p.keys))
	case f.quorum == 0:
		p.quorum = len(p.keys)
	}
	return p, nil
}

// check checks the cosignatures of the verified proof p's checkpoint against the policy,
// saying what it found. A pending proof without the quorum is refused (exit 1): its
// checkpoint is not shown to be the one the witnesses saw. A complete proof rests on
// Bitcoin, not on the witnesses: their cosignatures are reported, not required.
func (w witnessPolicy) check(p *notary.Proof, v *notary.Verified, say func(string, ...any)) error {
	if len(w.keys) == 0 {
		return nil
	}
	cosigs, err := notary.CheckCosignatures([]byte(p.Log.Checkpoint), w.keys, w.quorum)
	for _, c := range cosigs {
		say("ok   the checkpoint is cosigned by the witness %s at %s", c.Witness, c.Time.Format(time.RFC3339))
	}
	var qe *notary.QuorumError
	switch {
	case errors.As(err, &qe) && v.Complete:
		say("--   %v (not required of a complete proof: it rests on Bitcoin)", qe)
		return nil
	case errors.As(err, &qe):
		return &cliError{code: exitInvalid, err: fmt.Errorf("the proof is pending and %v", qe),
			hint: "the log's checkpoint is not shown to be the one its witnesses saw; fetch the proof again from the notary " +
				"(GET /v1/timestamps/DIGEST) once its witnesses have cosigned a checkpoint that covers the entry, or check --witness-key"}
	case err != nil:
		return &cliError{code: exitInvalid, err: err, hint: "the checkpoint's cosignatures were altered"}
	}
	say("ok   %d of the %d witnesses you gave cosigned the checkpoint, %d required", len(cosigs), len(w.keys), w.quorum)
	return nil
}
