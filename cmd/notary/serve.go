//go:build cgo

package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store/postgres"
)

// serveFlags are the settings shared by serve and dev.
type serveFlags struct {
	addr, data, db, origin, publicURL string
	// forceWriter makes a process on PostgreSQL write the log without waiting to be
	// elected, deposing any other writer: tests use it to force two writers at once.
	forceWriter bool
	// tilesEntries publishes the entry bundles of the log's tiles.
	tilesEntries bool
	anchor       anchorFlags
	api          apiFlags
	witness      witnessFlags
	tsa          tsaFlags
}

// apiFlags are the settings of the API that serve takes. The dev stack does not register
// them: it runs on loopback for one person, so its pages are never rate limited and
// callbacks may reach local addresses.
type apiFlags struct {
	registered          bool
	anonRate, keyRate   float64
	anonBurst, keyBurst int
	anonDigestRate      float64
	anonDigestBurst     int
	keyDigestsPerDay    int
	maxConns            int
	maxConnsPerClient   int
	maxBatches          int
	maxBatchesPerClient int
	webhooksPerKey      int
	webhooksPerAddress  int
	trustedProxies      string
	webhookPrivate      bool
}

// fdReserve is how many file descriptors the process keeps for itself (the database, the
// node, the webhooks) out of its limit, when it caps its connections.
const fdReserve = 256

func (f *apiFlags) register(fs *flag.FlagSet) {
	f.registered = true
	fs.Float64Var(&f.anonRate, "anon-rate", 5, "requests a second allowed to each client address without an API key (0: no limit)")
	fs.IntVar(&f.anonBurst, "anon-burst", 30, "requests at once allowed to each client address without an API key")
	fs.Float64Var(&f.keyRate, "key-rate", 100, "requests a second allowed to each API key (0: no limit)")
	fs.IntVar(&f.keyBurst, "key-burst", 200, "requests at once allowed to each API key")
	fs.Float64Var(&f.anonDigestRate, "anon-digest-rate", 1, "digests a second each client address may submit without an API key, a batch counting all of its own (0: no limit)")
	fs.IntVar(&f.anonDigestBurst, "anon-digest-burst", 1000, "digests at once each client address may submit without an API key: the largest anonymous batch")
	fs.IntVar(&f.keyDigestsPerDay, "key-digests-per-day", 0, "digests each API key may submit in 24 hours (0: no quota)")
	fs.IntVar(&f.maxConns, "max-conns", 10_000, "connections open at once; past it an idle one gives way, or the new one is answered 503.\n"+
		"At most, and by 0, the process's file descriptor limit less "+strconv.Itoa(fdReserve))
	fs.IntVar(&f.maxConnsPerClient, "max-conns-per-client", 128, "connections open at once from one client address, trusted proxies excepted; past it one of its idle ones gives way,\n"+
		"or the new one is answered 429 (0: no limit)")
	fs.IntVar(&f.maxBatches, "max-batches", 64, "batch submissions in progress at once, from reading the body to writing the answer; past it 503 (0: no limit)")
	fs.IntVar(&f.maxBatchesPerClient, "max-batches-per-client", 4, "batch submissions in progress at once per API key, or client address without one; past it 429 (0: no limit)")
	fs.IntVar(&f.webhooksPerKey, "max-webhooks-per-key", 100_000, "pending webhooks (waiting for their proofs or their delivery) per API key; past it a submission with a callback is refused, 429 too_many_webhooks (0: no limit)")
	fs.IntVar(&f.webhooksPerAddress, "max-webhooks-per-address", 1000, "pending webhooks per client address without an API key; past it 429 too_many_webhooks (0: no limit)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For names the client")
	fs.BoolVar(&f.webhookPrivate, "webhook-private", false, "let callbacks reach loopback and private addresses")
}

// config returns the API's limits and trusted proxies, and whether callbacks may reach
// private addresses.
func (f *apiFlags) config() (api.Limits, []*net.IPNet, bool, error) {
	if !f.registered {
		return api.Limits{}, nil, true, nil
	}
	var proxies []*net.IPNet
	for c := range strings.SplitSeq(f.trustedProxies, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return api.Limits{}, nil, false, usageError("--trusted-proxies: %q is not a CIDR like 10.0.0.0/8", c)
		}
		proxies = append(proxies, n)
	}
	if f.anonRate < 0 || f.keyRate < 0 || f.anonDigestRate < 0 || f.keyDigestsPerDay < 0 ||
		f.maxConns < 0 || f.maxConnsPerClient < 0 || f.maxBatches < 0 || f.maxBatchesPerClient < 0 || f.webhooksPerKey < 0 || f.webhooksPerAddress < 0 || f.anonBurst < 1 || f.keyBurst < 1 || f.anonDigestBurst < 1 {
		return api.Limits{}, nil, false, usageError("rates and quotas must not be negative and bursts must be at least 1")
	}
	limits := api.Limits{
		Anonymous:          api.Rate{PerSecond: f.anonRate, Burst: f.anonBurst},
		Key:                api.Rate{PerSecond: f.keyRate, Burst: f.keyBurst},
		AnonymousDigests:   api.Rate{PerSecond: f.anonDigestRate, Burst: f.anonDigestBurst},
		KeyDigestsPerDay:   f.keyDigestsPerDay,
		Batches:            f.maxBatches,
		BatchesPerClient:   f.maxBatchesPerClient,
		WebhooksPerKey:     f.webhooksPerKey,
		WebhooksPerAddress: f.webhooksPerAddress,
	}
	return limits, proxies, f.webhookPrivate, nil
}

func (f *serveFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}, defaultData string) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
	fs.StringVar(&f.data, "data", defaultData, "state `DIR`: keys (0600), the SQLite database unless --db")
	fs.StringVar(&f.db, "db", "", dbFlagUsage)
	fs.StringVar(&f.origin, "origin", "", "the log's `NAME` in checkpoints (default: the key's name, or notary.localhost/log for a new key)")
	fs.StringVar(&f.publicURL, "public-url", "", "the `URL` proofs name for upgrades (default: http://ADDR)")
	fs.BoolVar(&f.tilesEntries, "tiles-entries", false, "publish the log's entry bundles at /log/tile/entries/N (every entry's digest, time and nonce) besides its hash tiles")
	f.tsa.register(fs)
}

// connLimits returns the limits of the server's connections, within the process's file
// descriptors (which Go raises to the hard limit at start): more connections than it
// allows would make accept fail for everyone.
func (f *apiFlags) connLimits(proxies []*net.IPNet, log *slog.Logger) api.ConnLimits {
	if !f.registered {
		return api.ConnLimits{}
	}
	limits := api.ConnLimits{Max: f.maxConns, PerClient: f.maxConnsPerClient, Exempt: proxies}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < uint64(math.MaxInt) {
		allowed := max(int(rl.Cur)-fdReserve, 16)
		if limits.Max > allowed {
			log.Warn("fewer connections than --max-conns: the process may open few files", "max_conns", allowed, "file_limit", rl.Cur)
		}
		if limits.Max == 0 || limits.Max > allowed {
			limits.Max = allowed
		}
	}
	return limits
}

// stack is a running notary: database, service, anchorer and HTTP server.
type stack struct {
	url string
	svc *service.Service
	anc *anchor.Anchorer
}

// runStack opens the data directory (which the caller has locked), starts every part and serves until ctx is done, then
// shuts down in reverse order: stop taking requests, drain the sequencer, stop anchoring,
// close the database. ready, if not nil, is called once the server listens.
func runStack(ctx context.Context, f serveFlags, btc anchor.Node, log *slog.Logger, ready func(*stack)) error {
	if f.publicURL != "" {
		if err := notary.CheckServiceURL(f.publicURL); err != nil {
			return usageError("--public-url: %v: proofs name it, and verifiers would refuse them", err)
		}
	}
	if err := ensureDataDir(f.data); err != nil {
		return err
	}
	limits, proxies, privateCallbacks, err := f.api.config()
	if err != nil {
		return err
	}
	signer, vkey, err := loadOrCreateLogKey(filepath.Join(f.data, "log.key"), f.origin)
	if err != nil {
		return err
	}
	witnesses, err := f.witness.pool(log.With("part", "witness"))
	if err != nil {
		return err
	}
	webhookKey, err := loadOrCreateWebhookKey(filepath.Join(f.data, "webhook.key"))
	if err != nil {
		return err
	}
	tsaSigner, err := f.tsa.signer(f.data, signer.Name(), log)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, databasePath(f.db, f.data), false)
	if err != nil {
		return err
	}
	defer db.Close()
	if pg, ok := db.(*postgres.DB); ok {
		risks, err := pg.ReplicationRisks(ctx)
		if err != nil {
			log.Warn("could not read the database's replication settings", "err", err)
		}
		for _, r := range risks {
			log.Warn("database replication", "risk", r)
		}
	}
	head, err := service.OpenHeadFile(filepath.Join(f.data, "signed-head"), vkey)
	if err != nil {
		return err
	}
	defer head.Close()

	ln, err := listen(f.addr)
	if err != nil {
		return err
	}
	url := f.publicURL
	if url == "" {
		url = "http://" + ln.Addr().String()
	}
	// The server answers at once: 503 "starting" until the log is open, then the API.
	var handler atomic.Pointer[http.Handler]
	starting := api.Starting()
	handler.Store(&starting)
	shutdown := make(chan struct{})
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Longer than the longest long poll (api.MaxWait), with time to answer.
		WriteTimeout: api.MaxWait + 30*time.Second,
		IdleTimeout:  120 * time.Second,
	}
	conns := api.LimitConns(srv, ln, f.api.connLimits(proxies, log))
	errs := make(chan error, 3)
	go func() {
		if err := srv.Serve(conns); !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	}()
	log.Info("notary starting", "url", url)
	// Shutdown ends long polls at once, then waits for every request in flight.
	srv.RegisterOnShutdown(func() { close(shutdown) })
	n := &node{
		f: f, btc: btc, log: log, signer: signer, vkey: vkey, webhookKey: webhookKey,
		db: db, head: head, url: url, limits: limits, proxies: proxies,
		privateCallbacks: privateCallbacks, shutdown: shutdown, handler: &handler,
		forwardKey: forwardKey(signer), tsa: tsaSigner, witnesses: witnesses,
	}
	var failed error
	if pg, ok := db.(*postgres.DB); ok && !f.forceWriter {
		failed = n.replicate(ctx, pg, errs, ready)
	} else {
		failed = n.writeAlone(ctx, errs, ready)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("http shutdown", "err", err)
	}
	n.stopRole()
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

// loadOrCreateWebhookKey reads the Ed25519 key that signs webhooks from path (the base64
// of its 32-byte seed), creating it (0600) if the file does not exist.
func loadOrCreateWebhookKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		data = []byte(base64.StdEncoding.EncodeToString(seed) + "\n")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, usageError("saving the webhook key: %v", err)
		}
	} else if err != nil {
		return nil, usageError("reading the webhook key: %v", err)
	}
	seed, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, usageError("%s is not a notary webhook key file", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// listen listens on addr (--addr); a taken address is an error naming the flag.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		e := &cliError{code: exitUsage, err: fmt.Errorf("listen on %s: %v", addr, err)}
		if errors.Is(err, syscall.EADDRINUSE) {
			e.hint = "another process listens on " + addr + ": stop it, or choose another address with --addr HOST:PORT (make run ADDR=127.0.0.1:9090)"
		}
		return nil, e
	}
	return ln, nil
}

// checkListen reports, as listen does, whether addr can be listened on now.
func checkListen(addr string) error {
	ln, err := listen(addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// chainView shows the anchorer to the API.
type chainView struct{ *anchor.Anchorer }

func (c chainView) Wallet(ctx context.Context) (api.Wallet, error) {
	w, err := c.Anchorer.Wallet(ctx)
	if err != nil {
		return api.Wallet{}, err
	}
	return api.Wallet{Network: w.Network, Address: w.Address, Balance: int64(w.Balance), Spendable: int64(w.Spendable)}, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[flags]", stderr)
	config := fs.String("config", "", "read settings from `FILE` (lines \"name = value\"; flags and NOTARY_* variables win)")
	var f serveFlags
	f.register(fs, "notary-data")
	f.anchor.register(fs)
	f.api.register(fs)
	f.witness.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyConfig(fs, *config); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if passwordInArgs(fs) {
		log.Warn("the password in --node shows in the process list; pass the URL in NOTARY_NODE or --config, or use --node-password-file or --node-cookie")
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
