package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/store"
	"github.com/notary-dev/notary/web"
)

// serveFlags are the settings shared by serve and dev.
type serveFlags struct {
	addr, data, origin, publicURL string
	anchor                        anchorFlags
}

func (f *serveFlags) register(fs interface {
	StringVar(*string, string, string, string)
}, defaultData string) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
	fs.StringVar(&f.data, "data", defaultData, "state `DIR`: keys (0600), database")
	fs.StringVar(&f.origin, "origin", "", "the log's `NAME` in checkpoints (default: the key's name, or notary.localhost/log for a new key)")
	fs.StringVar(&f.publicURL, "public-url", "", "the `URL` proofs name for upgrades (default: http://ADDR)")
}

// stack is a running notary: database, service, anchorer and HTTP server.
type stack struct {
	url string
	svc *notary.Service
	anc *anchor.Anchorer
}

// runStack opens the data directory (which the caller has locked), starts every part and serves until ctx is done, then
// shuts down in reverse order: stop taking requests, drain the sequencer, stop anchoring,
// close the database. ready, if not nil, is called once the server listens.
func runStack(ctx context.Context, f serveFlags, node anchor.Node, log *slog.Logger, ready func(*stack)) error {
	if err := ensureDataDir(f.data); err != nil {
		return err
	}
	signer, vkey, err := loadOrCreateLogKey(filepath.Join(f.data, "log.key"), f.origin)
	if err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(f.data, "notary.db"))
	if err != nil {
		return err
	}
	defer db.Close()

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usageError("listen on %s: %v", f.addr, err)
	}
	url := f.publicURL
	if url == "" {
		url = "http://" + ln.Addr().String()
	}
	svc, err := notary.New(ctx, notary.Config{
		Signer: signer, Verifier: vkey, Store: db, ServiceURL: url, Logger: log.With("part", "log"),
	})
	if err != nil {
		ln.Close()
		return err
	}
	anc, err := f.anchor.open(ctx, f.data, node, db, svc, log.With("part", "anchor"))
	if err != nil {
		ln.Close()
		return err
	}
	svc.SetAnchors(anc)

	srv := &http.Server{
		Handler:           api.New(api.Config{Service: svc, Pages: web.Pages(), Logger: log.With("part", "api")}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	svcCtx, stopSvc := context.WithCancel(context.Background())
	ancCtx, stopAnc := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(2)
	go func() { defer wg.Done(); errs <- svc.Run(svcCtx) }()
	go func() { defer wg.Done(); errs <- anc.Run(ancCtx) }()
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	}()
	log.Info("notary serving", "url", url, "origin", signer.Name(), "key", vkey)
	if ready != nil {
		ready(&stack{url: url, svc: svc, anc: anc})
	}

	var failed error
	select {
	case <-ctx.Done():
	case failed = <-errs:
		log.Error("a part stopped", "err", failed)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("http shutdown", "err", err)
	}
	stopSvc()
	stopAnc()
	wg.Wait()
	log.Info("notary stopped")
	return failed
}

// loadOrCreateLogKey reads the log's signed-note key from path, creating it (0600) with the
// given origin as its name if the file does not exist.
func loadOrCreateLogKey(path, origin string) (note.Signer, string, error) {
	skey, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if origin == "" {
			origin = "notary.localhost/log"
		}
		s, v, err := note.GenerateKey(nil, origin)
		if err != nil {
			return nil, "", usageError("creating the log key for origin %q: %v", origin, err)
		}
		if err := os.WriteFile(path, []byte(s+"\n"+v+"\n"), 0o600); err != nil {
			return nil, "", usageError("saving the log key: %v", err)
		}
		skey = []byte(s + "\n" + v + "\n")
	} else if err != nil {
		return nil, "", usageError("reading the log key: %v", err)
	}
	lines := strings.Fields(string(skey))
	if len(lines) != 2 {
		return nil, "", usageError("%s is not a notary log key file", path)
	}
	signer, err := note.NewSigner(lines[0])
	if err != nil {
		return nil, "", usageError("%s: %v", path, err)
	}
	if origin != "" && signer.Name() != origin {
		return nil, "", &cliError{code: exitUsage,
			err:  fmt.Errorf("the log key in %s is for origin %q, not %q", path, signer.Name(), origin),
			hint: "a log keeps its origin for life; drop --origin or use another --data directory"}
	}
	return signer, lines[1], nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[flags]", stderr)
	config := fs.String("config", "", "read settings from `FILE` (lines \"name = value\"; flags and NOTARY_* variables win)")
	var f serveFlags
	f.register(fs, "notary-data")
	f.anchor.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyConfig(fs, *config); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := ensureDataDir(f.data); err != nil {
		return err
	}
	unlock, err := lockDataDir(f.data)
	if err != nil {
		return err
	}
	defer unlock()
	node, err := f.anchor.node()
	if err != nil {
		return err
	}
	return runStack(ctx, f, node, log, nil)
}
