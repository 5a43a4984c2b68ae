//go:build cgo

package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store/postgres"
	"github.com/notary-dev/notary/tsa"
	"github.com/notary-dev/notary/web"
	"github.com/notary-dev/notary/webhook"
	"github.com/notary-dev/notary/witness"
)

// node is one notary process, with what its roles share: keys, database, HTTP server.
// It plays one role at a time: the log's writer (the sequencer and the anchorer), or,
// on a PostgreSQL database that other processes share, a follower that serves reads
// and forwards submissions to the writer until it is elected writer itself.
type node struct {
	f                serveFlags
	btc              anchor.Node
	log              *slog.Logger
	signer           note.Signer
	vkey             string
	webhookKey       ed25519.PrivateKey
	db               database
	head             *service.HeadFile
	url              string
	limits           api.Limits
	proxies          []*net.IPNet
	privateCallbacks bool
	shutdown         chan struct{}
	handler          *atomic.Pointer[http.Handler]
	forwardKey       []byte
	witnesses        *witness.Pool // nil without witnesses; only the writer talks to them
	tsa              *tsa.Signer   // signs the RFC 3161 tokens of POST /tsa

	role *role // the role being played; only the goroutine of runStack changes it
}

// role is the parts a process runs in one role, and how to stop them.
type role struct {
	svc    *service.Service
	anc    *anchor.Anchorer
	writer bool
	since  time.Time
	errs   chan error // a part that stopped with an error
	stop   func()     // stops the parts, in order, and waits for them
}

// forwardKey derives the key that authenticates submissions forwarded between the
// processes of one log from the log's signing key, which they all hold: an Ed25519
// signature is deterministic, and no one without the key can make it.
func forwardKey(signer note.Signer) []byte {
	sig, err := signer.Sign([]byte("notary-forward-key/v1"))
	if err != nil {
		return nil
	}
	k := sha256.Sum256(sig)
	return k[:]
}

// writeAlone plays the writer from the start, until ctx is done or a part fails.
func (n *node) writeAlone(ctx context.Context, serverErrs <-chan error, ready func(*stack)) error {
	r, err := n.startWriter(ctx)
	if err != nil {
		return err
	}
	n.role = r
	if ready != nil {
		ready(&stack{url: n.url, svc: r.svc, anc: r.anc})
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-serverErrs:
		return err
	case err := <-r.errs:
		n.log.Error("a part stopped", "err", err)
		return err
	}
}

// replicate follows the log while it campaigns to write it; once elected it writes it
// until ctx is done, a part fails, or it loses the writer lock (then it returns, and the
// process ends: another one writes the log by then).
func (n *node) replicate(ctx context.Context, pg *postgres.DB, serverErrs <-chan error, ready func(*stack)) error {
	r, err := n.startFollower(ctx, pg)
	if err != nil {
		return err
	}
	n.role = r
	type campaign struct {
		lost    <-chan struct{}
		release func()
		err     error
	}
	won := make(chan campaign, 1)
	cctx, stopCampaign := context.WithCancel(ctx)
	defer stopCampaign()
	go func() {
		lost, release, err := pg.Campaign(cctx)
		won <- campaign{lost, release, err}
	}()
	var lost <-chan struct{}
	announced := false
	announce := func() {
		if !announced && ready != nil {
			announced = true
			ready(&stack{url: n.url, svc: n.role.svc, anc: n.role.anc})
		}
	}
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-serverErrs:
			return err
		case err := <-n.role.errs:
			n.log.Error("a part stopped", "err", err)
			return err
		case <-lost:
			return errors.New("notary: lost the writer lock (the database connection failed): stopping, another process writes the log")
		case c := <-won:
			if c.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("notary: campaigning to write the log: %w", c.err)
			}
			defer c.release()
			n.log.Info("elected to write the log")
			n.stopRole()
			w, err := n.startWriter(ctx)
			if err != nil {
				return err
			}
			n.role = w
			if err := pg.SetWriter(ctx, n.url, w.since); err != nil {
				return fmt.Errorf("notary: publishing this process as the writer: %w", err)
			}
			lost = c.lost
			announce()
		case <-poll.C:
			if !announced {
				if _, err := pg.Writer(ctx); err == nil {
					announce()
				}
			}
		}
	}
}

// stopRole stops the role being played, if any.
func (n *node) stopRole() {
	if n.role != nil {
		n.role.stop()
		n.role = nil
	}
}

// serve swaps the HTTP server's handler to the API of r.
func (n *node) serve(r *role, forward func(context.Context) (string, error), hooks *webhook.Dispatcher) {
	h := api.New(api.Config{
		Service: r.svc, Pages: web.Pages(), Logger: n.log.With("part", "api"),
		Chain: chainView{r.anc}, Database: n.db, Keys: n.db, Webhooks: hooks,
		Limits: n.limits, TrustedProxies: n.proxies, Shutdown: n.shutdown, ForwardKey: n.forwardKey,
		Cluster: clusterView{n: n, role: r, writer: forward}, TSA: n.tsa, TileEntries: n.f.tilesEntries,
	})
	if forward != nil {
		h = api.Forward(h, api.ForwardConfig{Writer: forward, Key: n.forwardKey, TrustedProxies: n.proxies})
	}
	n.handler.Store(&h)
}

// parts opens the anchorer and webhook delivery that go with svc, whichever its role.
func (n *node) parts(ctx context.Context, svc *service.Service) (*anchor.Anchorer, *webhook.Dispatcher, error) {
	anc, err := n.f.anchor.open(ctx, n.f.data, n.btc, n.db, svc, n.log.With("part", "anchor"))
	if err != nil {
		return nil, nil, err
	}
	svc.SetAnchors(anc)
	hooks, err := webhook.New(webhook.Config{
		Service: svc, Store: n.db, Key: n.webhookKey, Encode: api.TimestampJSON, AllowPrivate: n.privateCallbacks,
		Logger: n.log.With("part", "webhooks"),
	})
	if err != nil {
		return nil, nil, err
	}
	return anc, hooks, nil
}

// startWriter starts the sequencer, the anchorer and webhook delivery, and serves them.
func (n *node) startWriter(ctx context.Context) (*role, error) {
	svc, err := service.New(ctx, service.Config{
		Signer: n.signer, Verifier: n.vkey, Store: n.db, SignedHead: n.head, ServiceURL: n.url,
		Witnesses: n.witnesses, Logger: n.log.With("part", "log"),
	})
	if err != nil {
		return nil, err
	}
	anc, hooks, err := n.parts(ctx, svc)
	if err != nil {
		return nil, err
	}
	r := &role{svc: svc, anc: anc, writer: true, since: time.Now().UTC().Truncate(time.Millisecond), errs: make(chan error, 2)}
	svcCtx, stopSvc := context.WithCancel(context.Background())
	ancCtx, stopAnc := context.WithCancel(context.Background())
	hooksCtx, stopHooks := context.WithCancel(context.Background())
	var wg, hooksWG sync.WaitGroup
	wg.Go(func() {
		if err := svc.Run(svcCtx); err != nil {
			r.errs <- err
		}
	})
	wg.Go(func() {
		if err := anc.Run(ancCtx); err != nil {
			r.errs <- err
		}
	})
	// Long polls and webhooks wake when the anchors change.
	hooksWG.Go(func() { anc.Watch(hooksCtx, 200*time.Millisecond, svc.AnchorsChanged) })
	hooksWG.Go(func() { _ = hooks.Run(hooksCtx) })
	r.stop = func() {
		stopHooks()
		hooksWG.Wait()
		stopSvc()
		stopAnc()
		wg.Wait()
	}
	n.serve(r, nil, hooks)
	n.log.Info("notary serving", "role", "writer", "epoch", svc.Epoch(), "url", n.url, "origin", n.signer.Name(), "key", n.vkey)
	return r, nil
}

// writerURLCache is how long a follower trusts the writer's URL it read.
const writerURLCache = 500 * time.Millisecond

// startFollower serves the log another process writes: reads from the database, the
// anchors as the writer saves them, submissions forwarded to the writer.
func (n *node) startFollower(ctx context.Context, pg *postgres.DB) (*role, error) {
	svc, err := service.NewFollower(ctx, service.Config{
		Signer: n.signer, Verifier: n.vkey, Store: n.db, ServiceURL: n.url, Witnesses: n.witnesses,
		Logger: n.log.With("part", "log"),
	})
	if err != nil {
		return nil, err
	}
	anc, hooks, err := n.parts(ctx, svc)
	if err != nil {
		return nil, err
	}
	r := &role{svc: svc, anc: anc, since: time.Now().UTC(), errs: make(chan error, 1)}
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := svc.Run(runCtx); err != nil {
			r.errs <- err
		}
	})
	// The writer's anchors, as it saves them; long polls wake when they change.
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if err := anc.Reload(runCtx); err != nil && runCtx.Err() == nil {
					n.log.Warn("reading the writer's anchors", "err", err)
				}
				svc.AnchorsChanged()
			}
		}
	})
	r.stop = func() { stop(); wg.Wait() }
	var cached atomic.Pointer[cachedWriter]
	writer := func(ctx context.Context) (string, error) {
		if c := cached.Load(); c != nil && time.Since(c.at) < writerURLCache {
			return c.url, c.err
		}
		w, err := pg.Writer(ctx)
		cached.Store(&cachedWriter{url: w.URL, err: err, at: time.Now()})
		return w.URL, err
	}
	n.serve(r, writer, hooks)
	n.log.Info("notary serving", "role", "follower", "url", n.url)
	return r, nil
}

type cachedWriter struct {
	url string
	err error
	at  time.Time
}

// Standbys returns the standby servers of a PostgreSQL database; SQLite has none.
func (c clusterView) Standbys(ctx context.Context) ([]api.StandbyView, error) {
	pg, ok := c.n.db.(*postgres.DB)
	if !ok {
		return nil, nil
	}
	standbys, err := pg.Standbys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.StandbyView, len(standbys))
	for k, s := range standbys {
		out[k] = api.StandbyView{Name: s.Name, Synchronous: s.Sync == "sync" || s.Sync == "quorum", LagBytes: s.LagBytes}
		if s.LagSeconds >= 0 {
			out[k].LagSeconds = &s.LagSeconds
		}
	}
	return out, nil
}

// clusterView tells the API which process writes the log.
type clusterView struct {
	n      *node
	role   *role
	writer func(context.Context) (string, error) // nil on the writer
}

func (c clusterView) Writer(ctx context.Context) (api.WriterView, bool, error) {
	if c.role.writer {
		return api.WriterView{URL: c.n.url, Epoch: c.role.svc.Epoch(), Since: c.role.since, ThisProcess: true}, true, nil
	}
	pg, ok := c.n.db.(*postgres.DB)
	if !ok {
		return api.WriterView{}, false, nil
	}
	w, err := pg.Writer(ctx)
	if errors.Is(err, postgres.ErrNoWriter) {
		return api.WriterView{}, false, nil
	}
	if err != nil {
		return api.WriterView{}, false, err
	}
	return api.WriterView{URL: w.URL, Epoch: w.Epoch, Since: w.Since.UTC()}, true, nil
}
