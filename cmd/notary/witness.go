package main

import (
	"flag"
	"log/slog"
	"time"

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
		"repeatable, at most 16 (see docs/witnesses.md)", func(s string) error {
		f.specs = append(f.specs, s)
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
