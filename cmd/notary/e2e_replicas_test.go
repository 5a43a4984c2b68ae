package main

// Several `notary serve` processes on one PostgreSQL database, as real processes, so that a
// SIGKILL is a real crash: one writes the log, the others follow it and forward
// submissions to it, and a follower takes over when the writer dies.

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/tsa"
)

// replicaCount is how many processes each replica test runs.
const replicaCount = 3

// attempt is the outcome of one submission to one process.
type attempt struct {
	view       api.TimestampView
	status     int    // 0 when the request failed before an answer, -1 for an answer that breaks the API's promises
	code       string // the error code of a JSON error answer
	retryAfter time.Duration
	err        error
	base       string    // the process asked
	began      time.Time // when the request was sent
	ended      time.Time // when the answer, or the failure, came
}

// retryable reports whether the submission may be made again elsewhere: the process did
// not answer (killed, or not listening yet), or answered to try again (503; 500, which the
// API documents as "nothing was lost, try again"), or a gateway failed.
func (a attempt) retryable() bool {
	switch a.status {
	case 0, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// kind names the outcome for the counts a test logs.
func (a attempt) kind() string {
	switch {
	case a.err == nil:
		return "200"
	case a.status == 0:
		return "no answer"
	case a.status < 0:
		return "invalid answer"
	case a.code != "":
		return strconv.Itoa(a.status) + " " + a.code
	}
	return strconv.Itoa(a.status)
}

// submitOnce posts d to base as a client does; a 200 must carry a receipt whose proof
// verifies for d, and is then the only outcome without an error.
func submitOnce(base string, d notary.Digest) attempt {
	began := time.Now()
	a := postDigest(base, d)
	a.base, a.began, a.ended = base, began, time.Now()
	return a
}

// postDigest is submitOnce without the times.
func postDigest(base string, d notary.Digest) attempt {
	body := `{"digest":"` + d.String() + `"}`
	resp, err := replicaClient.Post(base+"/v1/timestamps", "application/json", strings.NewReader(body))
	if err != nil {
		return attempt{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return attempt{err: fmt.Errorf("POST %s/v1/timestamps %s: reading the answer: %v", base, d, err)}
	}
	a := attempt{status: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		a.retryAfter = time.Duration(s) * time.Second
	} else if resp.StatusCode == http.StatusServiceUnavailable {
		a.err = fmt.Errorf("POST %s/v1/timestamps %s: %s without a Retry-After of seconds (%q): %s",
			base, d, resp.Status, resp.Header.Get("Retry-After"), bytes.TrimSpace(raw))
		a.status = -1 // a refusal that does not say when to come back: the test fails
		return a
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil {
			a.code = e.Error.Code
		}
		a.err = fmt.Errorf("POST %s/v1/timestamps %s: %s: %s", base, d, resp.Status, bytes.TrimSpace(raw))
		return a
	}
	if err := json.Unmarshal(raw, &a.view); err != nil {
		a.err = fmt.Errorf("POST %s/v1/timestamps %s: %v", base, d, err)
		return a
	}
	r := a.view
	if r.Digest != d.String() || r.Proof == nil {
		a.err = fmt.Errorf("POST %s/v1/timestamps %s: receipt for digest %s, with proof %v", base, d, r.Digest, r.Proof != nil)
		return a
	}
	v, err := notary.Verify(r.Proof, r.Proof.OwnKey())
	if err != nil || v.Index != r.Index || v.Digest != d || v.LogSize != r.LogSize || v.Received.UnixMilli() != r.ReceivedMS {
		a.err = fmt.Errorf("POST %s/v1/timestamps %s: the receipt (entry %d, log size %d) does not verify: %v", base, d, r.Index, r.LogSize, err)
		a.status = -1 // acknowledged, wrongly: not to be retried
	}
	return a
}

// ledger records what the clients of a test submitted and were told, and every
// checkpoint they saw.
type ledger struct {
	mu          sync.Mutex
	submitted   map[notary.Digest]bool
	acked       map[notary.Digest]api.TimestampView
	checkpoints map[int64]merkle.Hash // size → root
	cpSource    map[int64]string
	outcomes    map[string]int
	attempts    map[notary.Digest][]attempt // every attempt, without its receipt
	errs        []string
	aborted     atomic.Bool               // the test failed: clients stop retrying
	epochs      map[int64]map[string]bool // epoch → the URLs that said they wrote the log at it
}

func newLedger() *ledger {
	return &ledger{
		submitted: map[notary.Digest]bool{}, acked: map[notary.Digest]api.TimestampView{},
		checkpoints: map[int64]merkle.Hash{}, cpSource: map[int64]string{},
		outcomes: map[string]int{}, epochs: map[int64]map[string]bool{},
		attempts: map[notary.Digest][]attempt{},
	}
}

// newDigest returns a fresh digest, recorded as submitted.
func (l *ledger) newDigest(t *testing.T) notary.Digest {
	d := randomDigest(t)
	l.mu.Lock()
	l.submitted[d] = true
	l.mu.Unlock()
	return d
}

// fail records an error that a goroutine cannot report with t.Fatal.
func (l *ledger) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

// checkpoint records a checkpoint seen; two roots for one size are an error.
func (l *ledger) checkpoint(size int64, root merkle.Hash, source string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.checkpoints[size]; ok {
		if old != root {
			l.errs = append(l.errs, fmt.Sprintf("two checkpoints of size %d: root %s (%s) and %s (%s)", size, old, l.cpSource[size], root, source))
		}
		return
	}
	l.checkpoints[size] = root
	l.cpSource[size] = source
}

// record counts an attempt's outcome, and keeps the receipt and its checkpoint of a 200.
func (l *ledger) record(d notary.Digest, a attempt) {
	l.mu.Lock()
	l.outcomes[a.kind()]++
	bare := a
	bare.view = api.TimestampView{}
	l.attempts[d] = append(l.attempts[d], bare)
	if a.err == nil {
		if prev, ok := l.acked[d]; ok {
			l.errs = append(l.errs, fmt.Sprintf("%s acknowledged twice: %+v and %+v", d, prev, a.view))
		}
		l.acked[d] = a.view
	}
	l.mu.Unlock()
	if a.err == nil {
		if v, err := notary.Verify(a.view.Proof, a.view.Proof.OwnKey()); err == nil {
			l.checkpoint(v.LogSize, v.LogRoot, "the receipt of "+d.String())
		}
	}
}

// ackedCount returns how many digests were acknowledged.
func (l *ledger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// writerSeen records that url said it wrote the log at epoch.
func (l *ledger) writerSeen(epoch int64, url string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epochs[epoch] == nil {
		l.epochs[epoch] = map[string]bool{}
	}
	l.epochs[epoch][url] = true
}

// submitRetrying submits d until a process acknowledges it: first to urls[start], then to
// the next process after each refusal or failure, for at most waitLimit and maxAttempts
// attempts. It waits between attempts for the Retry-After asked, at most half a second (the
// next attempt goes to another process).
func (l *ledger) submitRetrying(urls []string, start int, d notary.Digest) (api.TimestampView, error) {
	const maxAttempts = 2000
	deadline := time.Now().Add(waitLimit)
	for n := 0; ; n++ {
		a := submitOnce(urls[(start+n)%len(urls)], d)
		l.record(d, a)
		if a.err == nil {
			return a.view, nil
		}
		if !a.retryable() {
			return api.TimestampView{}, a.err
		}
		if l.aborted.Load() {
			return api.TimestampView{}, fmt.Errorf("%s: given up with the test: %v", d, a.err)
		}
		if n+1 >= maxAttempts || time.Now().After(deadline) {
			return api.TimestampView{}, fmt.Errorf("%s not acknowledged after %d attempts in %v; the last: %v", d, n+1, waitLimit, a.err)
		}
		time.Sleep(min(max(a.retryAfter, 50*time.Millisecond), 500*time.Millisecond))
	}
}

// loggedBy returns the attempt whose request an entry received at receivedMS came from,
// when the times leave no doubt: the entry was received in a later millisecond than the
// attempt was sent, and in an earlier one than the next attempt was (the processes and the
// test read one clock).
func loggedBy(attempts []attempt, receivedMS int64) (int, bool) {
	for i, a := range attempts {
		if receivedMS <= a.began.UnixMilli() {
			return 0, false
		}
		if i == len(attempts)-1 || receivedMS < attempts[i+1].began.UnixMilli() {
			return i, true
		}
	}
	return 0, false
}

// promisesNothingLogged reports whether an answer says that nothing was logged.
func promisesNothingLogged(a attempt) bool {
	return a.status == http.StatusServiceUnavailable && (a.code == "not_writer" || a.code == "busy" || a.code == "starting")
}

// waitWriter waits until every live process names the same writer, at epoch minEpoch or
// later, which is one of them and the only one that says it is the writer; it returns
// that writer and its slot.
func (rs *replicas) waitWriter(t *testing.T, minEpoch int64) (writerView, int) {
	t.Helper()
	var w writerView
	slot := -1
	waitFor(t, waitLimit, fmt.Sprintf("agreed on one writer at epoch %d or later", minEpoch), func() (bool, error) {
		var first *writerView
		for _, i := range rs.live() {
			s, err := status(rs.urls[i])
			if err != nil {
				return false, err
			}
			switch {
			case s.Writer == nil:
				return false, fmt.Errorf("replica %d (%s) knows no writer", i, rs.urls[i])
			case s.Writer.Epoch < minEpoch:
				return false, fmt.Errorf("replica %d (%s) names writer %s at epoch %d", i, rs.urls[i], s.Writer.URL, s.Writer.Epoch)
			case s.Writer.ThisProcess != (s.Writer.URL == rs.urls[i]):
				return false, fmt.Errorf("replica %d (%s) names writer %s with this_process %v", i, rs.urls[i], s.Writer.URL, s.Writer.ThisProcess)
			case first == nil:
				first = s.Writer
			case s.Writer.URL != first.URL || s.Writer.Epoch != first.Epoch:
				return false, fmt.Errorf("replicas name writers %s at epoch %d and %s at epoch %d", first.URL, first.Epoch, s.Writer.URL, s.Writer.Epoch)
			}
		}
		if first == nil {
			return false, errors.New("no replica runs")
		}
		slot = rs.slotOf(first.URL)
		if slot < 0 || rs.proc(slot) == nil {
			return false, fmt.Errorf("the writer %s named at epoch %d is none of the running replicas", first.URL, first.Epoch)
		}
		w = *first
		return true, nil
	})
	return w, slot
}

// watch polls every process's status and signed checkpoint until stop is closed,
// recording the checkpoints and the writers they report.
func (rs *replicas) watch(l *ledger, vkey string, stop <-chan struct{}) {
	for {
		for i, url := range rs.urls {
			if s, err := status(url); err == nil {
				l.checkpoint(s.Checkpoint.Size, s.Checkpoint.Root, fmt.Sprintf("the status of replica %d", i))
				if s.Writer != nil && s.Writer.ThisProcess {
					l.writerSeen(s.Writer.Epoch, url)
				}
			}
			if cp, err := signedCheckpoint(url, vkey); err == nil {
				l.checkpoint(cp.Size, cp.Root, fmt.Sprintf("the checkpoint of replica %d", i))
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// parallel runs f(i) for i in [0, n) on 8 goroutines.
func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// durations sums up takeover times: each, the median and the maximum.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%s; median %v, max %v", strings.Join(parts, " "), s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// TestE2EReplicasFailover kills the writer of three processes ten times under a load of
// single submissions spread over all three, and starts a replacement each time: a
// follower takes over, no acknowledged digest is lost or moved, none is logged twice,
// every process serves every receipt as it was given, and every checkpoint any process
// showed is a prefix of the final log.
func TestE2EReplicasFailover(t *testing.T) {
	t.Parallel()
	db := pgtest.Shared(t)
	c := startChain(t)
	rs := startReplicas(t, c, db, replicaCount)
	vkey := logKey(t, rs.urls[0])
	l := newLedger()

	stopWatch := make(chan struct{})
	var watchWG sync.WaitGroup
	watchWG.Go(func() { rs.watch(l, vkey, stopWatch) })
	defer func() { close(stopWatch); watchWG.Wait() }()

	// The load: 8 clients, each sending its submissions round-robin over the processes and
	// each one, when refused, on to the next process.
	const clients = 8
	stopLoad := make(chan struct{})
	var loadWG sync.WaitGroup
	for i := range clients {
		loadWG.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				d := l.newDigest(t)
				if _, err := l.submitRetrying(rs.urls, i+j, d); err != nil {
					l.fail("client %d: %v", i, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	loadStopped := false
	stop := func() {
		if !loadStopped {
			loadStopped = true
			close(stopLoad)
			loadWG.Wait()
		}
	}
	defer func() {
		l.aborted.Store(true) // on a failure, not to wait for retries that cannot succeed
		stop()
	}()

	const kills = 10
	var takeovers []time.Duration
	type kill struct {
		slot int
		at   time.Time
	}
	var killed []kill
	// killedBefore says which writer was last killed before t, and when.
	killedBefore := func(t time.Time) string {
		for i := len(killed) - 1; i >= 0; i-- {
			if !killed[i].at.After(t) {
				return fmt.Sprintf("the writer, replica %d, was killed at %d ms", killed[i].slot, killed[i].at.UnixMilli())
			}
		}
		return "no writer killed before"
	}
	var epoch int64
	for k := range kills {
		w, slot := rs.waitWriter(t, epoch)
		epoch = w.Epoch
		// Some load through this writer before it dies.
		before := l.ackedCount()
		waitFor(t, waitLimit, "acknowledging submissions", func() (bool, error) {
			return l.ackedCount() >= before+4*clients, nil
		})

		killedAt := time.Now()
		rs.kill(slot)
		killed = append(killed, kill{slot, killedAt})
		// Submit through the others until one acknowledges: a writer took over.
		d := l.newDigest(t)
		others := slices.DeleteFunc(slices.Clone(rs.urls), func(u string) bool { return u == w.URL })
		var last attempt
		for n := 0; ; n++ {
			last = submitOnce(others[n%len(others)], d)
			l.record(d, last)
			if last.err == nil {
				break
			}
			if !last.retryable() {
				t.Fatalf("takeover %d: %v", k+1, last.err)
			}
			if time.Since(killedAt) > waitLimit {
				t.Fatalf("takeover %d: no submission acknowledged %v after killing the writer %s (epoch %d); the last: %v",
					k+1, waitLimit, w.URL, w.Epoch, last.err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(killedAt)
		takeovers = append(takeovers, took)

		next, nextSlot := rs.waitWriter(t, w.Epoch+1)
		t.Logf("takeover %d: killed replica %d (%s, epoch %d); replica %d (%s) writes at epoch %d; the first submission after %v",
			k+1, slot, w.URL, w.Epoch, nextSlot, next.URL, next.Epoch, took.Round(time.Millisecond))
		epoch = next.Epoch
		rs.restart(slot)
	}
	stop()

	l.mu.Lock()
	errs := slices.Clone(l.errs)
	outcomes := fmt.Sprint(l.outcomes)
	l.mu.Unlock()
	t.Logf("takeover times: %s", durations(takeovers))
	t.Logf("submission attempts by outcome: %s", outcomes)
	for i, e := range errs {
		if i == 20 {
			t.Errorf("… and %d more errors", len(errs)-i)
			break
		}
		t.Error(e)
	}

	// Every process converges on the final checkpoint, which covers the whole log.
	w, wslot := rs.waitWriter(t, epoch)
	s, err := status(w.URL)
	if err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, w.URL, s.LogSize)
	final, err := signedCheckpoint(w.URL, vkey)
	if err != nil {
		t.Fatal(err)
	}
	l.checkpoint(final.Size, final.Root, fmt.Sprintf("the final checkpoint of replica %d", wslot))
	for i, url := range rs.urls {
		waitFor(t, waitLimit, fmt.Sprintf("replica %d showing the final checkpoint, %d entries, and no lag", i, final.Size), func() (bool, error) {
			s, err := status(url)
			if err != nil {
				return false, err
			}
			if s.FollowerLag == nil {
				return false, fmt.Errorf("replica %d: /v1/status has no follower_lag", i)
			}
			return s.LogSize == final.Size && s.Checkpoint.Size == final.Size && s.Checkpoint.Root == final.Root && s.FollowerLag.Entries == 0,
				fmt.Errorf("replica %d: log size %d, checkpoint %d (root %s), follower lag %d", i, s.LogSize, s.Checkpoint.Size, s.Checkpoint.Root, s.FollowerLag.Entries)
		})
	}

	l.mu.Lock()
	acked := make([]notary.Digest, 0, len(l.acked))
	for d := range l.acked {
		acked = append(acked, d)
	}
	l.mu.Unlock()
	t.Logf("%d digests submitted, %d acknowledged, %d entries in the log", len(l.submitted), len(acked), final.Size)

	// No two acknowledged digests share an index.
	byIndex := map[int64]notary.Digest{}
	for _, d := range acked {
		r := l.acked[d]
		if other, ok := byIndex[r.Index]; ok {
			t.Errorf("%s and %s were both acknowledged as entry %d", d, other, r.Index)
		}
		byIndex[r.Index] = d
	}

	// Every process serves every receipt as it was given.
	var mu sync.Mutex
	var mismatches []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		mismatches = append(mismatches, fmt.Sprintf(format, args...))
	}
	parallel(len(acked)*len(rs.urls), func(n int) {
		d, i := acked[n/len(rs.urls)], n%len(rs.urls)
		r := l.acked[d]
		ts, err := lookup(rs.urls[i], d)
		switch {
		case err != nil:
			report("replica %d: %v (acknowledged as entry %d)", i, err, r.Index)
		case ts.Index != r.Index || ts.ReceivedMS != r.ReceivedMS || ts.LeafHash != r.LeafHash:
			report("replica %d has %s as entry %d received at %d ms, leaf %s; it was acknowledged as entry %d at %d ms, leaf %s",
				i, d, ts.Index, ts.ReceivedMS, ts.LeafHash, r.Index, r.ReceivedMS, r.LeafHash)
		}
	})

	// The log holds each digest once, and only digests that were submitted: the acknowledged
	// ones, and some whose answer was lost with a process.
	entries := make([]api.TimestampView, final.Size)
	parallel(int(final.Size), func(i int) {
		var ts api.TimestampView
		if _, err := getJSON(rs.urls[i%len(rs.urls)]+"/v1/entries/"+strconv.Itoa(i), &ts); err != nil {
			report("entry %d: %v", i, err)
			return
		}
		entries[i] = ts
	})
	for i, m := range mismatches {
		if i == 20 {
			t.Errorf("… and %d more", len(mismatches)-i)
			break
		}
		t.Error(m)
	}
	seen := map[string]int64{}
	lost := 0
	lostAnswers := map[string]int{} // entries logged from an attempt without a 200, by its outcome
	var broken []string             // entries logged from an attempt answered "nothing was logged"
	for i, ts := range entries {
		if ts.Digest == "" {
			continue // reported above
		}
		if ts.Index != int64(i) {
			t.Errorf("GET /v1/entries/%d answers entry %d", i, ts.Index)
		}
		if j, ok := seen[ts.Digest]; ok {
			t.Errorf("%s is logged twice: entries %d and %d", ts.Digest, j, i)
		}
		seen[ts.Digest] = int64(i)
		d, err := notary.ParseDigest(ts.Digest)
		if err != nil {
			t.Errorf("entry %d: %v", i, err)
			continue
		}
		if !l.submitted[d] {
			t.Errorf("entry %d holds %s, which no client submitted", i, d)
		}
		// The attempt that logged it: one without a 200 lost its answer, and must not have
		// said that nothing was logged.
		attempts := l.attempts[d]
		if j, ok := loggedBy(attempts, ts.ReceivedMS); ok && attempts[j].err != nil {
			a := attempts[j]
			lostAnswers[a.kind()]++
			if promisesNothingLogged(a) {
				broken = append(broken, fmt.Sprintf("entry %d, %s, received at %d ms, came from a submission sent to replica %d at %d ms and answered at %d ms (%s): %v",
					i, d, ts.ReceivedMS, rs.slotOf(a.base), a.began.UnixMilli(), a.ended.UnixMilli(), killedBefore(a.ended), a.err))
			}
		}
		if r, ok := l.acked[d]; !ok {
			lost++
		} else if r.Index != int64(i) {
			t.Errorf("entry %d holds %s, acknowledged as entry %d", i, d, r.Index)
		}
	}
	if len(broken) > 0 {
		t.Errorf("%d submission(s) were answered 503 saying that nothing was logged (docs/api.md, not_writer), and were logged; the first %d:\n%s",
			len(broken), min(len(broken), 5), strings.Join(broken[:min(len(broken), 5)], "\n"))
	}
	if want := int64(len(acked) + lost); final.Size != want {
		t.Errorf("the log has %d entries: want %d acknowledged plus %d logged without an answer, %d", final.Size, len(acked), lost, want)
	}
	t.Logf("%d entries logged whose answer was lost with a process; entries logged from an attempt without a 200, by its outcome: %v", lost, lostAnswers)

	// Every checkpoint seen is a prefix of the final one.
	type seenCheckpoint struct {
		size   int64
		root   merkle.Hash
		source string
	}
	l.mu.Lock()
	cps := make([]seenCheckpoint, 0, len(l.checkpoints))
	for size, root := range l.checkpoints {
		cps = append(cps, seenCheckpoint{size, root, l.cpSource[size]})
	}
	var writers []string
	for e, urls := range l.epochs {
		if len(urls) > 1 {
			writers = append(writers, fmt.Sprintf("epoch %d: %v", e, urls))
		}
	}
	l.mu.Unlock()
	for _, w := range writers {
		t.Errorf("more than one process said it wrote the log at %s", w)
	}
	var inconsistent []string
	parallel(len(cps), func(i int) {
		cp := cps[i]
		err := checkConsistent(rs.urls[i%len(rs.urls)], cp.size, cp.root, final)
		if cp.size > final.Size {
			err = fmt.Errorf("a checkpoint of size %d is beyond the final log of %d entries", cp.size, final.Size)
		}
		if err != nil {
			mu.Lock()
			inconsistent = append(inconsistent, fmt.Sprintf("%v (seen in %s)", err, cp.source))
			mu.Unlock()
		}
	})
	for i, e := range inconsistent {
		if i == 20 {
			t.Errorf("… and %d more", len(inconsistent)-i)
			break
		}
		t.Error(e)
	}
	t.Logf("%d checkpoints seen, %d not consistent with the final one of %d entries", len(cps), len(inconsistent), final.Size)
}

// postBatch posts digests to base's batch endpoint and returns the answer.
func postBatch(t *testing.T, base string, digests []notary.Digest) api.BatchView {
	t.Helper()
	hexes := make([]string, len(digests))
	for i, d := range digests {
		hexes[i] = d.String()
	}
	body, err := json.Marshal(map[string]any{"digests": hexes})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := replicaClient.Post(base+"/v1/timestamps/batch", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/v1/timestamps/batch: %s: %s", base, resp.Status, raw)
	}
	var b api.BatchView
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("POST %s/v1/timestamps/batch: %v", base, err)
	}
	return b
}

// waitLookup polls base until it finds d, and returns the lookup.
func waitLookup(t *testing.T, base string, d notary.Digest) api.TimestampView {
	t.Helper()
	var ts api.TimestampView
	waitFor(t, waitLimit, fmt.Sprintf("finding %s at %s", d, base), func() (bool, error) {
		var err error
		ts, err = lookup(base, d)
		return err == nil, err
	})
	return ts
}

// sameEntry reports how got differs from the entry want, or "".
func sameEntry(got api.TimestampView, want api.BatchItemView) string {
	if got.Index != want.Index || got.ReceivedMS != want.ReceivedMS || got.LeafHash != want.LeafHash {
		return fmt.Sprintf("entry %d received at %d ms, leaf %s; want entry %d at %d ms, leaf %s",
			got.Index, got.ReceivedMS, got.LeafHash, want.Index, want.ReceivedMS, want.LeafHash)
	}
	return ""
}

// TestE2EReplicasForward submits through followers: a batch and an OpenTimestamps
// submission sent to a follower are logged by the writer, which stays the writer, and
// answered with receipts that verify; a digest submitted through one process is found by
// the others.
func TestE2EReplicasForward(t *testing.T) {
	t.Parallel()
	db := pgtest.Shared(t)
	c := startChain(t)
	rs := startReplicas(t, c, db, replicaCount)
	w, ws := rs.waitWriter(t, 0)
	var followers []int
	for i := range rs.urls {
		want := "follower"
		if i == ws {
			want = "writer"
		} else {
			followers = append(followers, i)
		}
		v, code, err := readyz(rs.urls[i])
		if err != nil || code != http.StatusOK || !v.Ready || v.Role != want {
			t.Errorf("replica %d: /readyz %d %+v (%v); want 200, ready, role %q", i, code, v, err, want)
		}
		s, err := status(rs.urls[i])
		if err != nil {
			t.Fatal(err)
		}
		if s.FollowerLag == nil {
			t.Errorf("replica %d: /v1/status has no follower_lag", i)
		}
		if s.Writer == nil || s.Writer.Since.IsZero() || s.Writer.Since.After(time.Now()) {
			t.Errorf("replica %d: the writer is %+v; want one elected in the past", i, s.Writer)
		}
	}
	f1, f2 := rs.urls[followers[0]], rs.urls[followers[1]]

	// The log key every process publishes is the one in the data directories.
	vkey := logKey(t, f1)
	keyFile, err := os.ReadFile(filepath.Join(c.data, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(keyFile)); len(f) != 2 || f[1] != vkey {
		t.Fatalf("the follower publishes log key %q; log.key holds %q", vkey, keyFile)
	}

	// A batch through a follower.
	batch := make([]notary.Digest, 20)
	for i := range batch {
		batch[i] = randomDigest(t)
	}
	b := postBatch(t, f1, batch)
	if len(b.Receipts) != len(batch) {
		t.Fatalf("a batch of %d digests answered %d receipts", len(batch), len(b.Receipts))
	}
	items := make([]notary.BatchItem, len(batch))
	for i, r := range b.Receipts {
		if r.Digest != batch[i].String() {
			t.Fatalf("receipt %d is for %s, want %s", i, r.Digest, batch[i])
		}
		leaf, err := merkle.ParseHash(r.LeafHash)
		if err != nil {
			t.Fatal(err)
		}
		items[i] = notary.BatchItem{Index: r.Index, ReceivedMS: r.ReceivedMS, Digest: batch[i], LeafHash: leaf}
	}
	if _, err := notary.OpenBatchReceipt([]byte(b.Batch.Note), vkey, items); err != nil {
		t.Fatalf("the batch receipt a follower forwarded: %v", err)
	}
	for i, d := range batch {
		// Durable before the answer, so the writer has it at once.
		if diff := sameEntry(mustLookup(t, w.URL, d), b.Receipts[i]); diff != "" {
			t.Errorf("the writer has %s (batch item %d) as %s", d, i, diff)
		}
		if diff := sameEntry(waitLookup(t, f2, d), b.Receipts[i]); diff != "" {
			t.Errorf("the other follower has %s (batch item %d) as %s", d, i, diff)
		}
	}

	// Single submissions through each process, found by each other one.
	for i, base := range rs.urls {
		d := randomDigest(t)
		r := mustSubmit(t, base, d)
		for j, other := range rs.urls {
			if j == i {
				continue
			}
			ts := waitLookup(t, other, d)
			if ts.Index != r.Index || ts.ReceivedMS != r.ReceivedMS || ts.LeafHash != r.LeafHash {
				t.Errorf("%s, submitted through replica %d as entry %d at %d ms, is entry %d at %d ms at replica %d",
					d, i, r.Index, r.ReceivedMS, ts.Index, ts.ReceivedMS, j)
			}
		}
	}

	// The OpenTimestamps calendar's submissions go to the writer too.
	d := randomDigest(t)
	req, err := http.NewRequest(http.MethodPost, f2+"/digest", bytes.NewReader(d[:]))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := replicaClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(raw) == 0 {
		t.Fatalf("POST %s/digest: %s: %q", f2, resp.Status, raw)
	}
	mustLookup(t, w.URL, d)
	waitLookup(t, f1, d)

	// So do the TSA's: the token a follower answers is for an entry the writer has.
	d = randomDigest(t)
	query, err := (&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:], CertReq: true}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err = replicaClient.Post(f1+"/tsa", "application/timestamp-query", bytes.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	tr, err := tsa.ParseResponse(raw)
	if resp.StatusCode != http.StatusOK || err != nil || tr.Token == nil {
		t.Fatalf("POST %s/tsa: %s: %v", f1, resp.Status, err)
	}
	if index, _ := tsa.SerialIndex(tr.Token.Info.SerialNumber); mustLookup(t, w.URL, d).Index != index {
		t.Errorf("the token names entry %d; the writer has the imprint elsewhere", index)
	}

	// Forwarding moved no leadership.
	if now, _ := rs.waitWriter(t, w.Epoch); now.URL != w.URL || now.Epoch != w.Epoch {
		t.Errorf("the writer was %s at epoch %d; after the forwarded submissions it is %s at epoch %d", w.URL, w.Epoch, now.URL, now.Epoch)
	}
}

// rawTx returns a transaction the node has (in its mempool or, if it indexes them, a
// block), without witnesses.
func rawTx(t *testing.T, c *chain, txid string) []byte {
	t.Helper()
	var h string
	c.call(t, &h, "getrawtransaction", txid, 0)
	raw, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tx.SerializeNoWitness(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkMempoolSpends fails the test if two transactions in the node's mempool spend one
// coin, or if a transaction other than txid spends coin.
func checkMempoolSpends(t *testing.T, c *chain, txid string, coin wire.OutPoint) {
	t.Helper()
	spenders := map[wire.OutPoint]string{}
	for _, id := range c.mempool(t) {
		var tx wire.MsgTx
		if err := tx.DeserializeNoWitness(bytes.NewReader(rawTx(t, c, id))); err != nil {
			t.Fatal(err)
		}
		for _, in := range tx.TxIn {
			if other, ok := spenders[in.PreviousOutPoint]; ok {
				t.Errorf("the mempool holds two spends of %v: %s and %s", in.PreviousOutPoint, other, id)
			}
			spenders[in.PreviousOutPoint] = id
			if in.PreviousOutPoint == coin && id != txid {
				t.Errorf("the mempool holds %s, a second spend of %v, the coin of the anchor %s", id, coin, txid)
			}
		}
	}
}

// TestE2EReplicasAnchorTakeover kills the writer while its anchoring transaction waits in
// the mempool: the process that takes over completes that transaction rather than
// spending its coin again, and anchors what came after with another coin.
func TestE2EReplicasAnchorTakeover(t *testing.T) {
	t.Parallel()
	db := pgtest.Shared(t)
	c := startChain(t)
	rs := startReplicas(t, c, db, replicaCount)
	w, ws := rs.waitWriter(t, 0)
	l := newLedger()

	// Batch a, in a checkpoint before the wallet has coins, so that the first anchor holds it.
	a := make([]notary.Digest, 10)
	receipts := map[notary.Digest]api.TimestampView{}
	for i := range a {
		a[i] = l.newDigest(t)
		r, err := l.submitRetrying(rs.urls, i, a[i])
		if err != nil {
			t.Fatal(err)
		}
		receipts[a[i]] = r
	}
	waitCheckpoint(t, w.URL, int64(len(a)))
	c.mine(t, matureBlocks)
	ts := waitBroadcast(t, c, w.URL, a[len(a)-1])
	txid := ts.Anchor.TxID
	coin := spentOutpoint(t, rawTx(t, c, txid))
	if ts.Anchor.LogSize != int64(len(a)) {
		t.Fatalf("the first anchor commits size %d, want %d", ts.Anchor.LogSize, len(a))
	}

	rs.kill(ws)
	next, nextSlot := rs.waitWriter(t, w.Epoch+1)
	t.Logf("killed the writer, replica %d (epoch %d), with %s in the mempool; replica %d writes at epoch %d", ws, w.Epoch, txid, nextSlot, next.Epoch)
	// The new writer reports the transaction the old one broadcast, and spends its coin
	// no second time.
	for _, d := range a {
		waitFor(t, waitLimit, "the new writer reporting the anchor in the mempool", func() (bool, error) {
			ts, err := lookup(next.URL, d)
			if err != nil {
				return false, err
			}
			if ts.Anchor != nil && ts.Anchor.TxID != txid {
				return false, fmt.Errorf("after the takeover %s is anchored by %s; want %s", d, ts.Anchor.TxID, txid)
			}
			return inMempool(ts), fmt.Errorf("%s: status %s, anchor %+v", d, ts.Status, ts.Anchor)
		})
	}
	checkMempoolSpends(t, c, txid, coin)
	rs.restart(ws)

	// Batch b, after the takeover, through every process, in a checkpoint before a block.
	b := make([]notary.Digest, 5)
	for i := range b {
		b[i] = l.newDigest(t)
		r, err := l.submitRetrying(rs.urls, i, b[i])
		if err != nil {
			t.Fatal(err)
		}
		receipts[b[i]] = r
	}
	all := slices.Concat(a, b)
	waitCheckpoint(t, next.URL, int64(len(all)))
	checkMempoolSpends(t, c, txid, coin)
	if pool := c.mempool(t); !slices.Equal(pool, []string{txid}) {
		t.Errorf("mempool %v after the takeover, before a block; want just the anchor %s", pool, txid)
	}

	final := mineUntilConfirmed(t, c, next.URL, all)
	var second string
	for _, d := range all {
		v, err := notary.Verify(final[d].Proof, final[d].Proof.OwnKey())
		if err != nil || !v.Complete {
			t.Fatalf("proof of %s: complete %v, %v", d, v != nil && v.Complete, err)
		}
		if v.Index != receipts[d].Index {
			t.Errorf("proof of %s is for entry %d, acknowledged as %d", d, v.Index, receipts[d].Index)
		}
		got := notary.ReverseHex(v.TxID)
		switch {
		case slices.Contains(a, d):
			if got != txid {
				t.Errorf("%s (batch a) confirmed in %s, broadcast before the takeover as %s", d, got, txid)
			}
		case second == "":
			second = got
			if second == txid {
				t.Errorf("%s (batch b, logged after the broadcast) confirmed in the first anchor %s", d, txid)
			}
		case got != second:
			t.Errorf("%s (batch b) confirmed in %s, the rest of b in %s", d, got, second)
		}
	}
	firstProof, secondProof := final[a[0]].Proof.Bitcoin, final[b[0]].Proof.Bitcoin
	if in1, in2 := spentOutpoint(t, firstProof.Tx), spentOutpoint(t, secondProof.Tx); in1 != coin || in1 == in2 {
		t.Errorf("the anchors spend %v and %v; the first was broadcast spending %v", in1, in2, coin)
	}

	// The blocks since the wallet was funded hold the coinbases and the two anchors, nothing
	// else: no other spend of the wallet's coins was mined.
	var height int64
	c.call(t, &height, "getblockcount")
	for h := int64(matureBlocks + 1); h <= height; h++ {
		var hash string
		c.call(t, &hash, "getblockhash", h)
		var blk struct {
			Tx []string `json:"tx"`
		}
		c.call(t, &blk, "getblock", hash, 1)
		for _, id := range blk.Tx[1:] {
			if id != txid && id != second {
				t.Errorf("block %d holds %s, neither anchor (%s, %s)", h, id, txid, second)
			}
		}
	}
	if pool := c.mempool(t); len(pool) != 0 {
		t.Errorf("mempool %v once everything is confirmed; want it empty", pool)
	}

	// Every process, the restarted one included, shows the confirmed proofs and the two
	// anchors, neither replaced.
	for i, url := range rs.urls {
		for _, d := range all {
			ts := waitStatus(t, url, d, fmt.Sprintf("confirmed at replica %d", i), func(ts api.TimestampView) bool {
				return ts.Status == service.StatusConfirmed
			})
			v, err := notary.Verify(ts.Proof, ts.Proof.OwnKey())
			if err != nil || !v.Complete || v.Index != receipts[d].Index {
				t.Errorf("replica %d: the proof of %s: %+v, %v", i, d, v, err)
			}
		}
		var anchors api.AnchorsView
		if _, err := getJSON(url+"/v1/anchors", &anchors); err != nil {
			t.Fatal(err)
		}
		var txids []string
		for _, an := range anchors.Anchors {
			txids = append(txids, an.TxID)
			if an.Replacements != 0 || an.Status != service.AnchorFinal {
				t.Errorf("replica %d: anchor %s: %d replacement(s), status %s; want none, final", i, an.TxID, an.Replacements, an.Status)
			}
		}
		if !slices.Equal(txids, []string{second, txid}) {
			t.Errorf("replica %d lists anchors %v; want %s then %s", i, txids, second, txid)
		}
	}
}
