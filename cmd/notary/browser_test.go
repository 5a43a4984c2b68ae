package main

// The browser tests: Debian's chromium, headless, driven with chromedp against the web
// pages as the binary serves them. One test stamps a file through the stamp page against the
// whole stack and a real btcd regtest node, watches it confirm, downloads the proof and
// verifies it on the verify page, behind a proxy that records every request so the test can
// show that the file's bytes never reached the server. The others run the page's SHA-256
// against Go's, and the golden proofs of notary/testdata/proofs, as they are and altered at
// random, through the page's verifier against notary.Verify.
//
// Screenshots of every page go to $NOTARY_SCREENSHOTS if set, else to the test's artifact
// directory (kept with go test -artifacts -outputdir DIR).

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/ots"
	"github.com/notary-dev/notary/web"
)

// chromiumPath is where Debian installs chromium; .ci/run installs it where it is missing.
const chromiumPath = "/usr/bin/chromium"

// The window of the desktop screenshots; the narrow ones are a phone's, 390 by 844.
const desktopWidth, desktopHeight = 1200, 900

// patience bounds every wait on the browser: for a page to reach a state, for an action or a
// script to finish, for a download. Each takes a second or two on an idle machine and many
// times that on a busy one, where chromium shares the cores with btcd, the notary and the
// other tests. Only a broken page uses it up, so it is generous: a passing test never waits
// for it. No browser test measures how fast anything is.
const patience = 3 * time.Minute

// page is a headless chromium tab on one site, and what it has seen.
type page struct {
	t         *testing.T
	ctx       context.Context
	base      string // the site, ending in "/"
	shots     string // where screenshots go
	downloads string // where downloads go

	mu        sync.Mutex
	problems  []string          // uncaught exceptions and console errors
	requested []string          // every URL the tab asked for
	saved     map[string]string // finished downloads: suggested file name → path
	pending   map[string]string // downloads under way: GUID → suggested file name
}

// startPage starts chromium on a fresh profile and opens a tab on the site at base. It fails
// the test if chromium is missing or does not start. The browser stops when the test ends.
func startPage(t *testing.T, base string) *page {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Debian's chromium at %s: install it with `apt-get install chromium` (.ci/run does): %v", chromiumPath, err)
	}
	p := &page{
		t: t, base: strings.TrimSuffix(base, "/") + "/",
		shots: screenshotDir(t), downloads: t.TempDir(),
		saved: map[string]string{}, pending: map[string]string{},
	}
	// No deadline on the browser as a whole: each action has one (patience), and the
	// browser stops when the test ends.
	parent, cancelParent := context.WithCancel(context.Background())
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(desktopWidth, desktopHeight),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	p.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		cancelParent()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, msg := range p.problems {
			t.Errorf("the page reported: %s", msg)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(desktopWidth, desktopHeight)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, p.onEvent); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.ListenBrowser(ctx, p.onEvent); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: p.downloads, EventsEnabled: ptrTo(true),
	}); err != nil {
		t.Fatal(err)
	}
	return p
}

func ptrTo[T any](v T) *T { return &v }

// screenshotDir is $NOTARY_SCREENSHOTS, if set, or the test's artifact directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NOTARY_SCREENSHOTS")
	if dir == "" {
		dir = t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// onEvent runs in chromedp's event loop: it only records.
func (p *page) onEvent(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		p.problems = append(p.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			p.problems = append(p.problems, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *network.EventRequestWillBeSent:
		p.requested = append(p.requested, ev.Request.URL)
	case *browser.EventDownloadWillBegin:
		p.pending[ev.GUID] = ev.SuggestedFilename
	case *browser.EventDownloadProgress:
		if ev.State == browser.DownloadProgressStateCompleted {
			p.saved[p.pending[ev.GUID]] = filepath.Join(p.downloads, ev.GUID)
		}
	}
}

// run runs actions in the tab, failing the test on error.
func (p *page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, patience)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// open loads a page of the site (path relative to it) and waits until its scripts ran.
func (p *page) open(path string) {
	p.t.Helper()
	p.run("opening "+path, chromedp.Navigate(p.base+path))
	p.wait("page "+path+" loaded", `document.readyState === "complete"`)
}

// eval evaluates a JavaScript expression in the page (awaiting a promise) and decodes its value.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, patience)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript expression until it is true, failing the test after patience with
// the page's main text, so that a failure shows what the page said instead.
func (p *page) wait(what, expr string) {
	p.t.Helper()
	start := time.Now()
	deadline := start.Add(patience)
	for {
		if eval[bool](p, "!!("+expr+")") {
			if d := time.Since(start); d > time.Second {
				p.t.Logf("%v until %s", d.Round(time.Millisecond), what)
			}
			return
		}
		if time.Now().After(deadline) {
			text := eval[string](p, `(document.querySelector("main") || document.body).innerText`)
			p.t.Fatalf("after %v, still not %s (%s); the page says:\n%s", patience, what, expr, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves the whole page as name.png, and as name-narrow-dark.png on a phone's
// width with a dark color scheme, and runs axe-core's accessibility checks on both views:
// any violation fails the test. On the phone's width, nothing may be wider than the screen.
func (p *page) screenshot(name string) {
	p.t.Helper()
	shoot := func(file string) {
		buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			p.t.Fatalf("screenshot %s: %v", file, err)
		}
		path := filepath.Join(p.shots, file)
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			p.t.Fatal(err)
		}
		p.t.Logf("screenshot %s", path)
	}
	p.wait("the transitions done", `document.getAnimations().every((a) => !(a instanceof CSSTransition))`)
	shoot(name + ".png")
	p.checkAccessible(name)
	dark := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}
	p.run("narrow dark view",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: dark})
			return err
		}))
	p.wait("in the narrow dark view", `innerWidth === 390 && matchMedia("(prefers-color-scheme: dark)").matches`)
	// The colors change with a transition: the checks must see where it ends.
	p.wait("the colors' transitions done", `document.getAnimations().every((a) => !(a instanceof CSSTransition))`)
	shoot(name + "-narrow-dark.png")
	p.checkAccessible(name + " on a phone, dark")
	if wide := eval[[]string](p, `[...document.querySelectorAll("main *, header *, footer *")]
		.filter((el) => el.getBoundingClientRect().right > innerWidth + 1 && !el.closest(".visually-hidden, .table-wrap"))
		.map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).replace(/ /g, ".") : "")).slice(0, 10)`); len(wide) > 0 {
		p.t.Errorf("%s: on a 390 px screen, these are wider than the screen: %v", name, wide)
	}
	if over := eval[bool](p, `document.documentElement.scrollWidth > innerWidth + 1 || [...document.querySelectorAll(".table-wrap")].some((w) => w.scrollWidth > w.clientWidth + 1)`); over {
		p.t.Errorf("%s: on a 390 px screen, the page or a table scrolls sideways", name)
	}
	p.run("back to the desktop view",
		chromedp.EmulateViewport(desktopWidth, desktopHeight),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{}})
			return err
		}))
	p.wait("back in the desktop view", fmt.Sprintf(`innerWidth === %d && !matchMedia("(prefers-color-scheme: dark)").matches`, desktopWidth))
}

// axeVersion is the axe-core release the browser tests check the pages with, from npm;
// axeIntegrity is the npm registry's integrity of its package, checked before it is used.
const (
	axeVersion   = "4.10.3"
	axeIntegrity = "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=="
)

var axeOnce struct {
	sync.Once
	src string
	err error
}

// axeSource returns axe.min.js of axe-core axeVersion, from the user's cache directory, where
// it is put the first time from npm's package (npm pack; scripts/test-deps.sh installs npm),
// its integrity checked.
func axeSource(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() { axeOnce.src, axeOnce.err = loadAxe() })
	if axeOnce.err != nil {
		t.Fatalf("axe-core %s: %v (the browser tests need npm: make test-deps installs it)", axeVersion, axeOnce.err)
	}
	return axeOnce.src
}

func loadAxe() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "notary-tests", "axe-core-"+axeVersion)
	path := filepath.Join(dir, "axe.min.js")
	if b, err := os.ReadFile(path); err == nil {
		return string(b), nil
	}
	tmp, err := os.MkdirTemp("", "axe-core")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", tmp, "axe-core@"+axeVersion)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm pack: %v\n%s", err, out)
	}
	tgz, err := os.ReadFile(filepath.Join(tmp, "axe-core-"+axeVersion+".tgz"))
	if err != nil {
		return "", err
	}
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != axeIntegrity {
		return "", fmt.Errorf("the package's integrity is %s, want %s", got, axeIntegrity)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("no package/axe.min.js in the package: %v", err)
		}
		if h.Name != "package/axe.min.js" {
			continue
		}
		src, err := io.ReadAll(io.LimitReader(tr, 8<<20))
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		part := path + fmt.Sprintf(".%d", os.Getpid())
		if err := os.WriteFile(part, src, 0o644); err != nil {
			return "", err
		}
		return string(src), os.Rename(part, path)
	}
}

// checkAccessible runs axe-core's WCAG 2.1 A and AA rules and its best practices on the page
// as it is, and fails the test on each violation, naming the rule, its help and the elements.
func (p *page) checkAccessible(where string) {
	p.t.Helper()
	if !eval[bool](p, `typeof window.axe === "object"`) {
		eval[bool](p, axeSource(p.t)+";\ntrue")
	}
	violations := eval[[]string](p, `axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }, resultTypes: ["violations"] })
		.then((r) => r.violations.map((v) => v.id + " (" + v.impact + "): " + v.help + ": " + v.nodes.map((n) => n.target.join(" ") + (n.failureSummary ? " [" + n.failureSummary.replace(/\s+/g, " ") + "]" : "")).join("; ")))`)
	for _, v := range violations {
		p.t.Errorf("%s: accessibility: %s", where, v)
	}
}

// upload sets the files of a file input, as a person choosing them does.
func (p *page) upload(selector string, files ...string) {
	p.t.Helper()
	p.run("choosing "+strings.Join(files, ", ")+" in "+selector, chromedp.SetUploadFiles(chromedp.CSS(selector), files))
}

// download clicks selector and returns the path of the file saved under the name wanted
// (an earlier download of that name does not count).
func (p *page) download(selector, name string) string {
	p.t.Helper()
	p.mu.Lock()
	delete(p.saved, name)
	p.mu.Unlock()
	p.run("clicking "+selector, chromedp.Click(chromedp.CSS(selector)))
	deadline := time.Now().Add(patience)
	for {
		p.mu.Lock()
		path, ok := p.saved[name]
		got := fmt.Sprint(p.saved)
		p.mu.Unlock()
		if ok {
			return path
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("clicking %s did not download %s within %v; downloads: %s", selector, name, patience, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requestsOutside returns the URLs the tab asked for that are not on its site.
func (p *page) requestsOutside() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, u := range p.requested {
		if !strings.HasPrefix(u, p.base) && !strings.HasPrefix(u, "blob:"+strings.TrimSuffix(p.base, "/")) && !strings.HasPrefix(u, "data:") {
			out = append(out, u)
		}
	}
	return out
}

// servePagesWithKey serves the web pages and, at /v1/keys, logKey() as the log key a notary
// publishes; nothing else of the API.
func servePagesWithKey(t *testing.T, logKey func() string) string {
	t.Helper()
	return servePagesWithKeys(t, func() api.KeysView { return api.KeysView{LogKey: logKey()} })
}

// servePagesWithKeys serves the web pages and, at /v1/keys, the log and witness keys of
// keys() (its log_key and witness_keys, witness_quorum only).
func servePagesWithKeys(t *testing.T, keys func() api.KeysView) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(web.Pages()))
	mux.HandleFunc("GET /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		k := keys()
		json.NewEncoder(w).Encode(map[string]any{"log_key": k.LogKey, "witness_keys": k.WitnessKeys, "witness_quorum": k.WitnessQuorum})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// servePages serves the web pages alone, without the API, on loopback.
func servePages(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServerFS(web.Pages()))
	t.Cleanup(srv.Close)
	return srv.URL
}

// recorder is a reverse proxy in front of the notary that keeps every request it passes.
type recorder struct {
	url  string
	down atomic.Bool // the notary is unreachable: the API's requests find their connection closed
	mu   sync.Mutex
	reqs []recordedRequest
}

type recordedRequest struct {
	method, target string // target: path and query
	body           []byte
}

func startRecorder(t *testing.T, backend string) *recorder {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	r := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() && strings.HasPrefix(req.URL.Path, "/v1/") {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.reqs = append(r.reqs, recordedRequest{req.Method, req.URL.RequestURI(), body})
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *recorder) requests() []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// randomBytes returns n random bytes.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBrowserStampVerify stamps a 20 MB file through the stamp page against the whole stack
// and a btcd regtest node, downloads its pending proof at once, follows it to confirmed,
// downloads the complete proof and the .ots, checks them in Go, verifies the complete proof
// on the verify page with the file and with another file and the pending proof with the
// file, looks the digest up and opens the status page; all without the file's bytes
// reaching the server, and without the page asking anything of another site.
func TestBrowserStampVerify(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := startChain(t)
	s := startStack(t, c, stackOptions{})
	rec := startRecorder(t, s.url)
	p := startPage(t, rec.url)

	// Other users' entries, so that the inclusion path is not empty. The anchoring key gets
	// its coins once the page's entry is in a checkpoint: the first anchor then covers it.
	for range 5 {
		mustSubmit(t, s.url, randomDigest(t))
	}

	dir := t.TempDir()
	content := randomBytes(t, 20<<20)
	doc := filepath.Join(dir, "contract.bin")
	writeFile(t, doc, string(content))
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	edited := bytes.Clone(content)
	edited[len(edited)/2] ^= 1
	other := filepath.Join(dir, "contract-edited.bin")
	writeFile(t, other, string(edited))
	otherSum := sha256.Sum256(edited)

	// Stamp: the page hashes the file, submits the digest and follows it.
	p.open("")
	p.screenshot("1-stamp-empty")
	// Every state the card shows, in order: the old value of each change of its data-state.
	eval[bool](p, `(() => {
		window.seenStates = [];
		new MutationObserver((records) => {
			for (const r of records) if (r.target.matches("article.card")) window.seenStates.push(r.oldValue);
		}).observe(document.querySelector("#stamps"), { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-state"] });
		return true;
	})()`)
	watchHashing(p)
	p.upload("#files", doc)
	const card = `document.querySelector("#stamps article.card")`
	p.wait("showing the file's digest", card+` && `+card+`.dataset.digest`)
	if got := eval[string](p, card+`.dataset.digest`); got != want {
		t.Fatalf("the page hashed contract.bin to %s; Go's crypto/sha256 says %s", got, want)
	}
	checkHashedInWorker(t, p, int64(len(content)), want) // else a large file would freeze the page
	d, err := notary.ParseDigest(want)
	if err != nil {
		t.Fatal(err)
	}
	p.wait("showing the log entry", card+`.querySelector(".facts").textContent.includes("Log entry")`)
	p.wait("pending", card+`.dataset.state === "pending"`)

	// The answer to the submission carries a signed pending proof: it is there to download
	// at once, and it verifies, without Bitcoin.
	// It downloads under another name than the complete proof will, and the card says
	// when to come back for that one, and that it keeps checking.
	pendingPath := p.download(`#stamps article.card [data-action="proof"]`, "contract.bin.pending.proof.json")
	pending := filepath.Join(dir, "contract.bin.pending.proof.json")
	if msg := eval[string](p, card+`.querySelector(".message").innerText`); !strings.Contains(msg, "keeps checking") || !strings.Contains(msg, "look it up") {
		t.Errorf("the pending card does not say that the page keeps checking, and where to come back for the complete proof:\n%s", msg)
	}
	if got := eval[string](p, card+`.querySelector(".message a").getAttribute("href")`); got != "lookup.html#"+want {
		t.Errorf("the pending card's link to come back is %q, want lookup.html#%s", got, want)
	}
	p.screenshot("2-stamp-pending")
	writeFile(t, pending, string(mustRead(t, pendingPath)))
	if pv, err := notary.Verify(readProofFile(t, pending), s.logKeys(t)); err != nil {
		t.Fatalf("the pending proof downloaded from the stamp page does not verify: %v", err)
	} else if pv.Digest != d || pv.Complete {
		t.Fatalf("the pending proof downloaded from the stamp page is for %s, complete %v; want a pending proof of %s", pv.Digest, pv.Complete, d)
	}
	waitCheckpoint(t, s.url, 6)
	c.mine(t, matureBlocks)
	p.wait("in the mempool", card+`.dataset.state === "mempool"`)
	waitBroadcast(t, c, s.url, d) // the node has the transaction, so a block will take it
	p.screenshot("2-stamp-sent")
	c.mine(t, 1)
	p.wait("confirmed", card+`.dataset.state === "confirmed"`)
	p.screenshot("3-stamp-confirmed")
	states := eval[[]string](p, `[...window.seenStates, `+card+`.dataset.state]`)
	if !isSubsequence([]string{"hashing", "submitting", "pending", "mempool", "confirmed"}, slices.Compact(states)) {
		t.Errorf("the card went through the states %v; want hashing, submitting, pending, mempool, confirmed in that order", states)
	}

	// The downloads: a complete proof of this file, and its .ots.
	proofPath := p.download(`#stamps article.card [data-action="proof"]`, "contract.bin.proof.json")
	proof := readProofFile(t, proofPath)
	v, err := notary.Verify(proof, proof.OwnKey())
	if err != nil {
		t.Fatalf("the downloaded proof does not verify: %v", err)
	}
	if v.Digest != d || !v.Complete || v.Network != "regtest" {
		t.Fatalf("the downloaded proof is for %s, complete %v, on %q; want a complete proof of %s on regtest", v.Digest, v.Complete, v.Network, d)
	}
	named := filepath.Join(dir, "contract.bin.proof.json") // the CLI finds the file by its name
	writeFile(t, named, string(mustRead(t, proofPath)))
	stdout, _ := wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), named, doc)
	if !strings.Contains(stdout, "in its best chain") {
		t.Errorf("notary verify --node of the downloaded proof:\n%s", stdout)
	}
	ots := mustRead(t, p.download(`#stamps article.card [data-action="ots"]`, "contract.bin.ots"))
	otsPath := filepath.Join(dir, "contract.bin.ots")
	writeFile(t, otsPath, string(ots))
	magic := []byte("\x00OpenTimestamps\x00\x00Proof\x00\xbf\x89\xe2\xe8\x84\xe8\x92\x94\x01\x08")
	if !bytes.HasPrefix(ots, append(magic, sum[:]...)) {
		t.Errorf("the downloaded .ots does not start with the OpenTimestamps header and the file's SHA-256: % x", ots[:min(len(ots), 64)])
	}

	// Verify: the file and its proof, then another file with the same proof.
	p.open("verify.html")
	p.upload("#proof", named)
	p.upload("#doc", doc)
	result := `document.querySelector("#result")`
	p.wait("verified", result+`.dataset.doc === "`+want+`"`)
	if got := eval[string](p, result+`.dataset.verdict`); got != "valid" {
		t.Fatalf("the verify page's verdict on the file and its proof is %q, want valid", got)
	}
	if n := eval[int](p, `document.querySelectorAll("#checks li[data-mark=ok]").length`); n != 9 {
		t.Errorf("the verify page shows %d passed checks, want 9 (format, digest, entry, checkpoint, key, inclusion, transaction, block, work)", n)
	}
	verdict := eval[string](p, `document.querySelector("#verdict").innerText`)
	blockTime := time.Unix(int64(proof.Bitcoin.Header[68])|int64(proof.Bitcoin.Header[69])<<8|int64(proof.Bitcoin.Header[70])<<16|int64(proof.Bitcoin.Header[71])<<24, 0).UTC()
	for _, w := range []string{fmt.Sprintf("block %d", proof.Bitcoin.Height), blockTime.Format("2006-01-02 15:04:05 UTC"), "your time", "regtest"} {
		if !strings.Contains(verdict, w) {
			t.Errorf("the verdict does not say %q:\n%s", w, verdict)
		}
	}
	trusted := eval[string](p, `document.querySelector("#trusted").innerText`)
	if !strings.Contains(trusted, "Not checked") || !strings.Contains(trusted, notary.ReverseHex(v.BlockHash)) {
		t.Errorf("the verify page does not say that the block's place in the best chain was not checked:\n%s", trusted)
	}
	p.screenshot("4-verify-valid")
	p.upload("#doc", other)
	p.wait("checked against the edited file", result+`.dataset.doc === "`+hex.EncodeToString(otherSum[:])+`"`)
	if got, step := eval[string](p, result+`.dataset.verdict`), eval[string](p, result+`.dataset.step`); got != "invalid" || step != "digest" {
		t.Fatalf("the verify page's verdict on another file is %q at step %q, want invalid at digest", got, step)
	}
	p.screenshot("5-verify-other-file")

	// The pending proof of the same file: valid as far as it goes, the notary's signed word.
	p.upload("#proof", pending)
	p.upload("#doc", doc)
	p.wait("the pending proof checked",
		result+`.dataset.proof === "contract.bin.pending.proof.json" && `+result+`.dataset.doc === "`+want+`"`)
	if got := eval[string](p, result+`.dataset.verdict`); got != "pending" {
		t.Fatalf("the verify page's verdict on the file and its pending proof is %q, want pending", got)
	}
	marks := eval[string](p, `[...document.querySelectorAll("#checks li")].map((li) => li.dataset.step + ":" + li.dataset.mark).join(",")`)
	if want := "format:ok,digest:ok,entry:ok,checkpoint:ok,key:ok,inclusion:ok,witness:skip,transaction:skip,block:skip,work:skip"; marks != want {
		t.Errorf("the verify page's checks of the pending proof are %s; want %s", marks, want)
	}
	if trusted := eval[string](p, `document.querySelector("#trusted").innerText`); !strings.Contains(trusted, "signed word") {
		t.Errorf("the verify page does not say that a pending proof is the notary's signed word:\n%s", trusted)
	}
	p.screenshot("5-verify-pending")

	// The API's answer, saved as the README's curl line saves it: the proof in it verifies.
	answer := filepath.Join(dir, "answer.json")
	resp, err := httpClient.Get(s.url + "/v1/timestamps/" + want)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/timestamps/%s: %s %v", want, resp.Status, err)
	}
	writeFile(t, answer, string(body))
	p.upload("#proof", answer)
	p.wait("the API's answer checked", result+`.dataset.proof === "answer.json"`)
	if got := eval[string](p, result+`.dataset.verdict`); got != "valid" {
		t.Fatalf("the verify page's verdict on the API's answer about the file, with the file, is %q, want valid; it says:\n%s", got, eval[string](p, `document.querySelector("#verdict").innerText`))
	}
	p.screenshot("5-verify-answer")

	// The page saved for offline use, as its link saves it: the file notary verify-page writes.
	offline, err := web.OfflineVerifyPage()
	if err != nil {
		t.Fatal(err)
	}
	if saved := mustRead(t, p.download(`a[download="notary-verify.html"]`, "notary-verify.html")); !bytes.Equal(saved, offline) {
		t.Errorf("the verify page's link saved %d bytes, not the %d of the offline verify page", len(saved), len(offline))
	}

	// The .ots of the same file: verified, its path leading to the header of the block of
	// this notary's proof, which the page says it took from the notary.
	p.upload("#proof", otsPath)
	p.wait("the .ots checked", result+`.dataset.proof === "contract.bin.ots"`)
	if got := eval[string](p, result+`.dataset.verdict`); got != "valid" {
		t.Fatalf("the verify page's verdict on the file's .ots is %q, want valid; it says:\n%s", got, eval[string](p, `document.querySelector("#verdict").innerText`))
	}
	if text := eval[string](p, `document.querySelector("#verdict").innerText`); !strings.Contains(text, fmt.Sprintf("block %d", proof.Bitcoin.Height)) || !strings.Contains(text, "came from this notary") {
		t.Errorf("on the file's .ots, the verify page says:\n%s\nwant its block, and that the header came from this notary", text)
	}
	p.screenshot("5-verify-ots")
	p.upload("#doc", other)
	p.wait("the .ots checked against the edited file", result+`.dataset.doc === "`+hex.EncodeToString(otherSum[:])+`"`)
	if got, step := eval[string](p, result+`.dataset.verdict`), eval[string](p, result+`.dataset.step`); got != "invalid" || step != "digest" {
		t.Errorf("the verify page's verdict on the .ots with another file is %q at step %q, want invalid at digest", got, step)
	}

	// Look up, by the address and by the form.
	p.open("lookup.html#" + want)
	const found = `document.querySelector("#result article.card")`
	p.wait("confirmed on the lookup page", found+` && `+found+`.dataset.state === "confirmed"`)
	p.download(`#result article.card [data-action="proof"]`, "sha256-"+want[:16]+".proof.json")
	p.screenshot("6-lookup")
	// The file hashed on the look-up page names the proof.
	p.upload("#doc", doc)
	p.wait("the file's stamp on the lookup page", found+` && `+found+`.querySelector(".name").textContent === "contract.bin" && `+found+`.dataset.state === "confirmed"`)
	p.download(`#result article.card [data-action="proof"]`, "contract.bin.proof.json")
	unknown := randomDigest(t).String()
	p.run("looking up an unknown digest", chromedp.SetValue(chromedp.CSS("#digest"), unknown), chromedp.Click(chromedp.CSS(`#lookup-form button[type=submit]`)))
	p.wait("not found", `document.querySelector("#result [data-state=notfound]")`)
	p.screenshot("6-lookup-not-found")

	// Several files at once, and digests pasted (one as sha256sum prints it): one batch.
	p.open("")
	small1, small2 := filepath.Join(dir, "minutes.txt"), filepath.Join(dir, "photo.jpg")
	content1, content2 := randomBytes(t, 1000), randomBytes(t, 70_000)
	writeFile(t, small1, string(content1))
	writeFile(t, small2, string(content2))
	p.upload("#files", small1, small2)
	pasted := []string{randomDigest(t).String(), strings.ToUpper(randomDigest(t).String())}
	// The form is submitted as the Enter key or the button would (requestSubmit fires the
	// submit event): a mouse click can land elsewhere while the file cards still grow.
	p.run("pasting digests", chromedp.SetValue(chromedp.CSS("#digests"), pasted[0]+"\n"+pasted[1]+"  scan.pdf\n"))
	eval[bool](p, `document.querySelector("#digest-form").requestSubmit(), true`)
	p.wait("four stamps with their log entries",
		`[...document.querySelectorAll("#stamps article.card")].filter((c) => c.querySelector(".facts").textContent.includes("Log entry")).length === 4`)
	// The files' proofs come with their submissions; the pasted digests' from their lookups.
	p.wait("four pending proofs to download",
		`document.querySelectorAll("#stamps article.card [data-action=proof]").length === 4`)
	names := eval[string](p, `[...document.querySelectorAll("#stamps article.card .name")].map((n) => n.textContent).join(",")`)
	if names != "minutes.txt,photo.jpg,Digest,scan.pdf" {
		t.Errorf("the stamp page shows the stamps %s; want minutes.txt, photo.jpg, Digest and scan.pdf", names)
	}
	if !slices.ContainsFunc(rec.requests(), func(r recordedRequest) bool { return r.target == "/v1/timestamps/batch" }) {
		t.Errorf("the pasted digests were not sent in one POST /v1/timestamps/batch")
	}
	p.screenshot("8-stamp-many")

	// The notary unreachable: a digest is not stamped, the card says why in words, not the
	// browser's "Failed to fetch", and offers to try again, which works once it is back.
	rec.down.Store(true)
	p.open("")
	p.run("pasting a digest", chromedp.SetValue(chromedp.CSS("#digests"), randomDigest(t).String()))
	eval[bool](p, `document.querySelector("#digest-form").requestSubmit(), true`)
	p.wait("not stamped", card+` && `+card+`.dataset.state === "error" && `+card+`.querySelector("[data-action=retry]")`)
	if msg := eval[string](p, card+`.querySelector(".message").innerText`); !strings.Contains(msg, "could not be reached") || strings.Contains(msg, "Failed to fetch") {
		t.Errorf("with the notary unreachable, the stamp page says:\n%s", msg)
	}
	p.screenshot("9-stamp-notary-down")
	rec.down.Store(false)
	eval[bool](p, card+`.querySelector("[data-action=retry]").click(), true`)
	p.wait("stamped once the notary is back", card+`.dataset.state === "pending"`)

	// The look-up and status pages with the notary unreachable: said in words, with a retry.
	rec.down.Store(true)
	p.open("lookup.html#" + want)
	p.wait("the look-up failed", found+` && `+found+`.dataset.state === "error" && `+found+`.querySelector("[data-action=retry]")`)
	if msg := eval[string](p, found+`.querySelector(".message").innerText`); !strings.Contains(msg, "could not be reached") {
		t.Errorf("with the notary unreachable, the look-up page says:\n%s", msg)
	}
	p.screenshot("6-lookup-notary-down")
	p.open("status.html")
	p.wait("the status failed", `!document.querySelector("#status-error").hidden`)
	if msg := eval[string](p, `document.querySelector("#status-error").innerText`); !strings.Contains(msg, "could not be reached") || !strings.Contains(msg, "Trying again") {
		t.Errorf("with the notary unreachable, the status page says:\n%s", msg)
	}
	p.screenshot("7-status-notary-down")
	rec.down.Store(false)
	p.wait("the status once the notary is back", `document.body.dataset.loaded === "true" && document.querySelector("#status-error").hidden`)

	// Status.
	checkStatusPage(t, p, s.url, notary.ReverseHex(v.TxID))

	// Nothing of the file reached the server, and nothing left the site.
	checkNothingSent(t, rec.requests(), content, content1, content2)
	if out := p.requestsOutside(); len(out) > 0 {
		t.Errorf("the pages asked other sites for %v; they must work offline", out)
	}
	t.Logf("stamped, confirmed, downloaded and verified through the pages in %v", time.Since(start).Round(time.Millisecond))
}

// checkStatusPage opens the status page and checks that it shows the log, the checkpoint,
// the node, the wallet and the anchor of txid, as GET /v1/status has them.
func checkStatusPage(t *testing.T, p *page, base, txid string) {
	t.Helper()
	var status struct {
		LogSize    int64 `json:"log_size"`
		Checkpoint struct {
			Size int64 `json:"size"`
		} `json:"checkpoint"`
		NodeHeight int64  `json:"node_height"`
		Network    string `json:"network"`
		Wallet     struct {
			Address string `json:"address"`
		} `json:"wallet"`
	}
	// The checkpoint follows the log within a second: wait for it, so that every tile
	// of the page can be compared with one answer.
	waitFor(t, patience, "a checkpoint of the whole log", func() (bool, error) {
		resp, err := httpClient.Get(base + "/v1/status")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("GET /v1/status: %s", resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
			return false, err
		}
		return status.Checkpoint.Size == status.LogSize, nil
	})
	p.open("status.html")
	p.wait("showing the status", `document.body.dataset.loaded === "true"`)
	p.wait("listing the anchor", `document.querySelector("#anchors td[data-txid='`+txid+`']")`)
	tile := func(name string) string {
		// Without the thin spaces that group digits.
		return eval[string](p, `((document.querySelector("[data-tile=`+name+`] .value") || {}).innerText || "").replace(/\u202f/g, "")`)
	}
	for name, want := range map[string]string{
		"network": status.Network, "log": fmt.Sprint(status.LogSize), "checkpoint": fmt.Sprint(status.LogSize),
		"node": fmt.Sprint(status.NodeHeight), "wallet": status.Wallet.Address, "next": "",
	} {
		if text := tile(name); strings.TrimSpace(text) == "" || !strings.Contains(text, want) {
			t.Errorf("the status page's %s tile says %q; want it to show %q", name, text, want)
		}
	}
	p.screenshot("7-status")
}

// checkNothingSent fails the test if a request (its target or its body) carried any 64-byte
// window of the files' contents, or if the pages uploaded more than a few kilobytes in all.
func checkNothingSent(t *testing.T, reqs []recordedRequest, contents ...[]byte) {
	t.Helper()
	const window = 64
	total := 0
	for _, r := range reqs {
		payload := append([]byte(r.target), r.body...)
		total += len(r.body)
		for i := 0; i+window <= len(payload); i++ {
			for _, content := range contents {
				if bytes.Contains(content, payload[i:i+window]) {
					t.Fatalf("%s %s carried bytes of a file (at offset %d of its %d bytes)", r.method, r.target, i, len(payload))
				}
			}
		}
	}
	if total > 16<<10 {
		t.Errorf("the pages sent %d bytes of request bodies in all; only digests should go", total)
	}
	t.Logf("%d requests reached the server, with %d bytes of bodies in all; none carried the file's bytes", len(reqs), total)
}

// isSubsequence reports whether want appears in got in order, maybe with other items between.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBrowserGoldenProofs runs every golden proof of notary/testdata/proofs through the verify
// page, as a person choosing the file would, and requires the verdict and the failed step
// that manifest.json gives: the browser's verifier agrees with notary.Verify. The page is
// served with the log key the manifest trusts published at /v1/keys, as a notary publishes
// its own.
func TestBrowserGoldenProofs(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(filepath.Join("..", "..", "notary", "testdata", "proofs"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest []struct {
		File    string   `json:"file"`
		Models  string   `json:"models"`
		Trusted []string `json:"trusted"`
		Valid   bool     `json:"valid"`
		Stage   string   `json:"stage"`
		Step    string   `json:"step"`
		// Witnesses and WitnessQuorum are served as the witnesses the notary names.
		Witnesses     []string `json:"witnesses"`
		WitnessQuorum int      `json:"witness_quorum"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "manifest.json")), &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) < 20 {
		t.Fatalf("manifest.json lists %d proofs", len(manifest))
	}
	// The page trusts the one key its server publishes, learnt as it loads: it is loaded
	// again when a file trusts another.
	var served atomic.Value
	p := startPage(t, servePagesWithKeys(t, func() api.KeysView { return served.Load().(api.KeysView) }))
	const result = `document.querySelector("#result")`
	for i, m := range manifest {
		if len(m.Trusted) != 1 {
			t.Fatalf("%s trusts %v: the page trusts the one key its server publishes", m.File, m.Trusted)
		}
		keys := api.KeysView{LogKey: m.Trusted[0], WitnessKeys: m.Witnesses, WitnessQuorum: m.WitnessQuorum}
		if prev, _ := served.Load().(api.KeysView); i == 0 || prev.LogKey != keys.LogKey ||
			!slices.Equal(prev.WitnessKeys, keys.WitnessKeys) || prev.WitnessQuorum != keys.WitnessQuorum {
			served.Store(keys)
			p.open("verify.html")
		}
		p.upload("#proof", filepath.Join(dir, m.File))
		p.wait("verdict on "+m.File, result+`.dataset.proof === "`+m.File+`"`)
		verdict := eval[string](p, result+`.dataset.verdict`)
		step := eval[string](p, result+`.dataset.step`)
		stage := eval[string](p, result+`.dataset.stage`)
		switch {
		case m.Valid && verdict != "valid-nofile" && verdict != "pending":
			t.Errorf("%s (%s): the page says %q at step %q; want valid", m.File, m.Models, verdict, step)
		case !m.Valid && (verdict != "invalid" || step != m.Step || stage != m.Stage):
			t.Errorf("%s (%s): the page says %q at %s step %q; want invalid at %s step %q", m.File, m.Models, verdict, stage, step, m.Stage, m.Step)
		}
		switch m.File {
		case "valid-complete.json", "valid-pending.json", "tx-byte-flipped.json", "pending-signed-by-unknown-key.json", "complete-signed-by-unknown-key.json",
			"valid-pending-cosigned.json", "pending-cosigned-quorum-not-met.json":
			p.screenshot("golden-" + strings.TrimSuffix(m.File, ".json"))
		}
	}
}

// TestBrowserSHA256 checks the page's own SHA-256 against Go's crypto/sha256 on the standard
// vectors and on random data fed in random pieces, then hashes a file of several chunks
// through the look-up page and checks that the page hashed it in its worker, off the main
// thread, in pieces, to Go's digest.
func TestBrowserSHA256(t *testing.T) {
	t.Parallel()
	p := startPage(t, servePages(t))
	p.open("lookup.html")

	type vector struct {
		Data   string `json:"data"`   // base64
		Pieces []int  `json:"pieces"` // lengths to feed in turn
		Want   string `json:"want"`
	}
	var vectors []vector
	add := func(data []byte, pieces []int) {
		sum := sha256.Sum256(data)
		vectors = append(vectors, vector{base64.StdEncoding.EncodeToString(data), pieces, hex.EncodeToString(sum[:])})
	}
	add(nil, nil)
	add([]byte("abc"), nil)
	add([]byte("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), nil)
	add(bytes.Repeat([]byte("a"), 1_000_000), []int{1, 63, 64, 65, 999_807})
	for _, n := range []int{1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4097, 65537, 1 << 20} {
		data := randomBytes(t, n)
		var pieces []int
		for left := n; left > 0; {
			k := min(left, 1+int(randomBytes(t, 1)[0])%(2*64+3))
			pieces = append(pieces, k)
			left -= k
		}
		add(data, pieces)
	}
	in, err := json.Marshal(vectors)
	if err != nil {
		t.Fatal(err)
	}
	failures := eval[[]string](p, `(async (vectors) => {
		const { SHA256, sha256, toHex } = await import("./js/sha256.js");
		const failures = [];
		for (const [i, v] of vectors.entries()) {
			const data = Uint8Array.from(atob(v.data), (c) => c.charCodeAt(0));
			const whole = toHex(sha256(data));
			if (whole !== v.want) failures.push("vector " + i + " (" + data.length + " bytes): " + whole + ", want " + v.want);
			const h = new SHA256();
			let at = 0;
			for (const n of v.pieces || []) { h.update(data.subarray(at, at + n)); at += n; }
			h.update(data.subarray(at));
			const pieced = toHex(h.digest());
			if (pieced !== v.want) failures.push("vector " + i + " in pieces " + v.pieces + ": " + pieced + ", want " + v.want);
		}
		return failures;
	})(`+string(in)+`)`)
	for _, f := range failures {
		t.Error(f)
	}

	// A file of several of the worker's chunks, the last one short, through the look-up
	// page: the digest must be Go's, must come from the worker, which must have read the
	// file in pieces, and the page's main thread must not have hashed it. Nothing here
	// depends on how fast the machine is.
	const size = 40<<20 + 12345
	content := randomBytes(t, size)
	big := filepath.Join(t.TempDir(), "big.bin")
	writeFile(t, big, string(content))
	sum := sha256.Sum256(content)
	wantBig := hex.EncodeToString(sum[:])
	watchHashing(p)
	eval[bool](p, `(() => {
		window.progressSeen = new Set();
		new MutationObserver((records) => {
			for (const r of records) if (r.target.matches("progress")) window.progressSeen.add(r.target.value);
		}).observe(document.querySelector("#doc-info"), { subtree: true, attributes: true, attributeFilter: ["value"] });
		return true;
	})()`)
	started := time.Now()
	p.upload("#doc", big)
	p.wait("the large file's digest", `document.querySelector("#digest").value.length === 64`)
	elapsed := time.Since(started)
	got := eval[string](p, `document.querySelector("#digest").value`)
	if got != wantBig {
		t.Fatalf("the page hashed a %d-byte file to %s; Go says %s", size, got, wantBig)
	}
	checkHashedInWorker(t, p, size, got)
	if steps := eval[int](p, `window.progressSeen.size`); steps < 2 {
		t.Errorf("the progress bar took %d values while hashing %d bytes; want it to move as the file is read", steps, size)
	}
	t.Logf("the page hashed %d bytes in %v", size, elapsed.Round(time.Millisecond))
}

// watchHashing makes the page record, from now on, every Worker it creates with the messages
// that worker posts back ({type: "progress", done} or {type: "done", digest}, as
// js/hash-worker.js sends them), and the number of bytes that the main thread's SHA-256 (the
// js/sha256.js module that the page's scripts import) hashes. A worker has its own copy of
// the module: what it hashes is not counted.
func watchHashing(p *page) {
	p.t.Helper()
	eval[bool](p, `(async () => {
		const { SHA256 } = await import(new URL("js/sha256.js", document.baseURI).href);
		const watch = window.hashWatch = { workers: [], mainThreadBytes: 0 };
		const update = SHA256.prototype.update;
		SHA256.prototype.update = function (data) {
			watch.mainThreadBytes += data.length;
			return update.call(this, data);
		};
		const NativeWorker = window.Worker;
		window.Worker = class extends NativeWorker {
			constructor(url, options) {
				super(url, options);
				const w = { url: new URL(url, document.baseURI).href, progress: [], digest: "", error: "" };
				watch.workers.push(w);
				this.addEventListener("message", ({ data }) => {
					if (data && data.type === "progress") w.progress.push(data.done);
					else if (data && data.type === "done") w.digest = data.digest;
					else w.error = JSON.stringify(data);
				});
				this.addEventListener("error", (e) => { w.error = e.message || "error event"; });
			}
		};
		return true;
	})()`)
}

// checkHashedInWorker checks, with what watchHashing recorded, that a file of size bytes that
// the page says has the digest want was hashed off the main thread: a worker of
// js/hash-worker.js posted that digest, after progress in more than one piece up to the whole
// size, and the main thread's SHA-256 hashed fewer bytes than the file has.
func checkHashedInWorker(t *testing.T, p *page, size int64, want string) {
	t.Helper()
	type worker struct {
		URL      string  `json:"url"`
		Progress []int64 `json:"progress"`
		Digest   string  `json:"digest"`
		Error    string  `json:"error"`
	}
	w := eval[struct {
		Workers         []worker `json:"workers"`
		MainThreadBytes int64    `json:"mainThreadBytes"`
	}](p, `window.hashWatch`)
	if w.MainThreadBytes >= size {
		t.Errorf("the page's main thread hashed %d bytes while the page hashed a file of %d: the file must be hashed in the worker only", w.MainThreadBytes, size)
	}
	i := slices.IndexFunc(w.Workers, func(w worker) bool { return w.Digest == want })
	if i < 0 {
		t.Errorf("no worker posted the digest %s that the page shows; the page's workers: %+v", want, w.Workers)
		return
	}
	hw := w.Workers[i]
	if !strings.HasSuffix(hw.URL, "/js/hash-worker.js") {
		t.Errorf("the digest came from a worker of %s; want js/hash-worker.js", hw.URL)
	}
	if len(hw.Progress) < 2 || hw.Progress[len(hw.Progress)-1] != size || !slices.IsSorted(hw.Progress) {
		t.Errorf("the worker reported progress %v on a file of %d bytes; want it to read the file in several pieces, to the end", hw.Progress, size)
	}
	t.Logf("the page's worker hashed the %d bytes in %d pieces; its main thread hashed %d bytes meanwhile", size, len(hw.Progress), w.MainThreadBytes)
}

// TestBrowserVerifierMatchesGo alters the valid golden proofs at random, one hex digit or one
// byte at a time, adds to each the "receipt" field that earlier proofs had, puts the complete
// one on every network and on made-up ones with header bits at and beyond the limits, and requires
// the page's verifier (js/proof.js) to reach the verdict of notary.ParseProof and
// notary.Verify on each: valid, or the same failed step.
func TestBrowserVerifierMatchesGo(t *testing.T) {
	t.Parallel()
	p := startPage(t, servePages(t))
	p.open("verify.html")
	dir := filepath.Join("..", "..", "notary", "testdata", "proofs")
	type mutant struct {
		Proof   string   `json:"proof"`   // base64
		Trusted []string `json:"trusted"` // the log keys trusted; null: the key the proof names
		Step    string   `json:"step"`    // "" when valid
		What    string   `json:"what"`
	}
	var mutants []mutant
	steps := map[string]int{}
	// addTrusting adds a mutant checked trusting the keys trusted (nil: its own key).
	addTrusting := func(b []byte, what string, trusted []string) {
		step := ""
		proof, err := notary.ParseProof(b)
		if err == nil {
			keys := proof.OwnKey()
			if trusted != nil {
				var vs []note.Verifier
				for _, k := range trusted {
					if v, err := note.NewVerifier(k); err == nil {
						vs = append(vs, v)
					}
				}
				keys = note.VerifierList(vs...)
			}
			_, err = notary.Verify(proof, keys)
		}
		if ve, ok := err.(*notary.VerifyError); ok {
			step = ve.Step
		} else if err != nil {
			t.Fatalf("%s: an error without a step: %v", what, err)
		}
		steps[step]++
		mutants = append(mutants, mutant{base64.StdEncoding.EncodeToString(b), trusted, step, what})
	}
	add := func(b []byte, what string) { addTrusting(b, what, []string{logtest.LogVkey}) }

	// The valid proofs and the ones of other keys, under every set of trusted keys.
	other := "notary.example/other+e784a5df+ATMGrA50yNSDUqUvB5flY5eb4a6BWsfrn7Vk8W2Daj1c"
	forger := "notary.example/log+c27145f0+AXEolEBUsgRKy+zY9YiGCysvf8cWRmpfAqxMhY5h1JcK"
	upper := strings.Replace(logtest.LogVkey, "+11b508bc+", "+11B508BC+", 1)
	for _, name := range []string{"valid-complete.json", "valid-pending.json", "pending-signed-by-unknown-key.json", "pending-of-another-log.json", "complete-signed-by-unknown-key.json"} {
		b := mustRead(t, filepath.Join(dir, name))
		for _, trusted := range [][]string{nil, {}, {logtest.LogVkey}, {forger}, {other}, {other, forger},
			{forger, logtest.LogVkey}, {logtest.LogVkey, logtest.LogVkey}, {upper}, {"garbage", logtest.LogVkey}} {
			addTrusting(b, fmt.Sprintf("%s trusting %q", name, trusted), trusted)
		}
	}
	// The network and the bits of the header, set to each network and to edge cases.
	complete := mustRead(t, filepath.Join(dir, "valid-complete.json"))
	var names []string
	for _, n := range notary.Networks() {
		names = append(names, n.Name)
	}
	for _, network := range append(names, "", "bitcoin", "Regtest", "main") {
		add(bytes.Replace(complete, []byte(`"network": "regtest"`), []byte(`"network": "`+network+`"`), 1), "valid-complete.json on network "+network)
	}
	// The encoding rules of docs/proof-format.md, at the edges.
	for _, edit := range [][2]string{
		{`"tx_index": 2`, `"tx_index": -0`}, {`"height": 144`, `"height": -0`}, {`"height": 144`, `"height": 1.44e2`},
		{`"received_ms": 1795650000345`, `"received_ms": -1795650000345`}, {`"received_ms": 1795650000345`, `"received_ms": 9223372036854775808`},
		{`"https://notary.example"`, `"http://[::1]:8080/notary/?x=1#y"`}, {`"https://notary.example"`, `"https://notary.example:99999"`},
		{`"https://notary.example"`, `"https://notary.example/a path"`}, {`"https://notary.example"`, `"https://not\u00e4ry.example"`},
		{`"https://notary.example"`, `"ftp://notary.example"`}, {`"https://notary.example"`, `"https://"`},
		{`"https://notary.example"`, `"https://user@notary.example"`}, {`"https://notary.example"`, `"HTTPS://notary.example"`},
		{`"https://notary.example"`, `"https://notary.example\ud83d\ude00"`}, {`"https://notary.example"`, `"https://notary.example\udc00"`},
		{`"https://notary.example"`, `"https:\/\/notary.example\/"`},
		{`+11b508bc+`, `+11b508Bc+`}, {`ASei22vQ`, `ASei\r22vQ`}, {`ASei22vQ`, `ASei22v\u0051`},
		{`notary.example/log\n13`, `notary.example/log\ud83d\ude00\n13`}, {`notary.example/log\n13`, `notary.example/log\ud83d\n13`},
		{`— notary.example/log`, `\u2014 notary.example/log`},
	} {
		if !bytes.Contains(complete, []byte(edit[0])) {
			t.Fatalf("valid-complete.json has no %s", edit[0])
		}
		add(bytes.Replace(complete, []byte(edit[0]), []byte(edit[1]), 1), "valid-complete.json with "+edit[1])
	}
	headerAt := bytes.Index(complete, []byte(`"header": "`)) + len(`"header": "`)
	for _, bits := range []string{"ffff7f20", "ffff7f21", "00800021", "ff00211d", "ffff001d", "ae77031e", "ffff7fff", "ffffff20", "00008020", "00000020", "80000002"} {
		b := bytes.Clone(complete)
		copy(b[headerAt+2*72:], bits)
		for _, network := range []string{"regtest", "mainnet", "signet"} {
			add(bytes.Replace(b, []byte(`"network": "regtest"`), []byte(`"network": "`+network+`"`), 1),
				fmt.Sprintf("valid-complete.json on %s with the header's bits field %s", network, bits))
		}
	}
	for _, name := range []string{"valid-complete.json", "valid-complete-tagged.json", "valid-pending.json"} {
		orig := mustRead(t, filepath.Join(dir, name))
		// A proof of the earlier form, with a signed receipt: the field is unknown now.
		withReceipt := bytes.Replace(orig, []byte(`"log":`), []byte(`"receipt": "notary-receipt/v1\n",`+"\n  "+`"log":`), 1)
		if bytes.Equal(withReceipt, orig) {
			t.Fatalf("%s has no log field", name)
		}
		add(withReceipt, name+" with a receipt field")
		for i := range 150 {
			b := bytes.Clone(orig)
			r := randomBytes(t, 3)
			pos := (int(r[0])<<8 | int(r[1])) % len(b)
			what := ""
			if i%3 == 2 {
				b[pos] ^= 1 << (r[2] % 8)
				what = fmt.Sprintf("%s with bit %d of byte %d flipped", name, r[2]%8, pos)
			} else {
				// A hex digit changed to another: the file stays well formed, its content not.
				for !strings.ContainsRune("0123456789abcdef", rune(b[pos])) {
					pos = (pos + 1) % len(b)
				}
				digits := strings.ReplaceAll("0123456789abcdef", string(b[pos]), "")
				b[pos] = digits[int(r[2])%len(digits)]
				what = fmt.Sprintf("%s with byte %d changed to %q", name, pos, b[pos])
			}
			add(b, what)
		}
	}
	in, err := json.Marshal(mutants)
	if err != nil {
		t.Fatal(err)
	}
	disagreements := eval[[]string](p, `(async (mutants) => {
		const { checkProof } = await import("./js/proof.js");
		const out = [];
		for (const m of mutants) {
			const r = await checkProof(Uint8Array.from(atob(m.proof), (c) => c.charCodeAt(0)), undefined, m.trusted);
			const step = r.valid ? "" : r.step;
			if (step !== m.step) out.push(m.what + ": the page says " + (step || "valid") + " (" + (r.message || "") + "), Go says " + (m.step || "valid"));
		}
		return out;
	})(`+string(in)+`)`)
	for _, d := range disagreements {
		t.Error(d)
	}
	t.Logf("%d altered proofs, the same verdict in Go and in the page; Go's failed steps: %v", len(mutants), steps)
}

// TestBrowserOfflinePage writes the verify page to disk with notary verify-page, opens it
// from there (file://) with the browser's network off, and checks golden proofs with it: a
// complete one, valid, alone and inside the API's answer; a pending one, valid as far as it
// goes; an altered one, invalid; an .ots, said to be one. The page asks for nothing but itself.
func TestBrowserOfflinePage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "notary-verify.html")
	wantCLI(t, exitOK, "verify-page", path)
	p := startPage(t, "file://"+dir+"/")
	p.run("turning the network off", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Offline: true}},
		}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true})
		return err
	}))
	p.open("notary-verify.html")
	if !eval[bool](p, `!navigator.onLine`) {
		t.Fatal("the browser is not offline")
	}
	golden, err := filepath.Abs(filepath.Join("..", "..", "notary", "testdata", "proofs"))
	if err != nil {
		t.Fatal(err)
	}
	complete := mustRead(t, filepath.Join(golden, "valid-complete.json"))
	answer := filepath.Join(dir, "answer.json")
	var head struct {
		Digest string `json:"digest"`
	}
	if err := json.Unmarshal(complete, &head); err != nil {
		t.Fatal(err)
	}
	writeFile(t, answer, `{"digest": "`+head.Digest+`", "status": "confirmed", "index": 13, "proof": `+string(complete)+"}\n")
	altered := filepath.Join(dir, "altered.json")
	writeFile(t, altered, strings.Replace(string(complete), `"tx_index": 2`, `"tx_index": 3`, 1))
	const result = `document.querySelector("#result")`
	for _, c := range []struct{ file, verdict, shot string }{
		{filepath.Join(golden, "valid-complete.json"), "valid-nofile", "offline-valid"},
		{answer, "valid-nofile", ""},
		{filepath.Join(golden, "valid-pending.json"), "pending", "offline-pending"},
		{altered, "invalid", "offline-invalid"},
		{filepath.Join(golden, "..", "..", "..", "ots", "testdata", "hello-world.txt.ots"), "ots", "offline-ots"},
	} {
		p.upload("#proof", c.file)
		p.wait("a verdict on "+c.file, result+`.dataset.proof === "`+filepath.Base(c.file)+`"`)
		if got := eval[string](p, result+`.dataset.verdict`); got != c.verdict {
			t.Errorf("offline, the page's verdict on %s is %q, want %q; it says:\n%s", c.file, got, c.verdict, eval[string](p, `document.querySelector("#verdict").innerText`))
		}
		if c.shot != "" {
			p.screenshot(c.shot)
		}
	}
	p.upload("#proof", filepath.Join(golden, "valid-complete.json"))
	p.wait("the complete proof again", result+`.dataset.proof === "valid-complete.json" && `+result+`.dataset.verdict === "valid-nofile"`)
	if trusted := eval[string](p, `document.querySelector("#trusted").innerText`); !strings.Contains(trusted, "no notary's published key was at hand") {
		t.Errorf("offline, the page does not say that it trusted the key the proof names:\n%s", trusted)
	}
	// A document hashed from disk, offline: the page has no worker file, and hashes it itself.
	doc := filepath.Join(dir, "doc.bin")
	content := randomBytes(t, 3<<20)
	writeFile(t, doc, string(content))
	sum := sha256.Sum256(content)
	p.upload("#doc", doc)
	p.wait("the document hashed offline", `document.querySelector("#doc-info").dataset.digest === "`+hex.EncodeToString(sum[:])+`"`)
	if got := eval[string](p, result+`.dataset.step`); got != "digest" {
		t.Errorf("offline, a proof of another document fails at step %q, want digest", got)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.requested {
		if u != "file://"+path && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			t.Errorf("the offline page asked for %s", u)
		}
	}
}

// TestBrowserProofForms runs the ways people hold proofs through the page's verifier: every
// valid and invalid golden proof inside the API's answer (GET /v1/timestamps/{digest}, as
// curl saves it) must get the verdict the proof alone gets; an answer about another digest
// than its proof's, with a key twice, or with no proof yet, is not read as a proof; and every
// golden .ots file is read as Go's ots.ParseFile reads it: the same files refused, the same
// digest read from the others.
func TestBrowserProofForms(t *testing.T) {
	t.Parallel()
	p := startPage(t, servePages(t))
	p.open("verify.html")
	dir := filepath.Join("..", "..", "notary", "testdata", "proofs")
	type form struct {
		Data      string `json:"data"` // base64
		What      string `json:"what"`
		Step      string `json:"step"`      // the failed step wanted, "" for valid
		Same      string `json:"same"`      // base64 of a file the verdict must equal, if any
		OTSDigest string `json:"otsDigest"` // an .ots: the digest Go reads, "?" for a malformed one
		Notice    bool   `json:"notice"`    // said as something the page cannot check, not as damage
	}
	var forms []form
	b64 := base64.StdEncoding.EncodeToString
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(digest, proof string) string {
		return `{"digest": "` + digest + `", "status": "pending", "index": 4, "received": "2026-11-26T09:00:00Z", "proof": ` + proof + "}\n"
	}
	for _, e := range entries {
		if e.Name() == "manifest.json" || e.Name() == "oversized.json" {
			continue
		}
		b := mustRead(t, filepath.Join(dir, e.Name()))
		var head struct {
			Digest string `json:"digest"`
		}
		if json.Unmarshal(b, &head) != nil || head.Digest == "" || !json.Valid(b) {
			continue // the answer of the API is JSON about a digest: only such proofs fit in one
		}
		forms = append(forms, form{Data: b64([]byte(wrap(head.Digest, string(b)))), What: e.Name() + " in an answer", Same: b64(b)})
	}
	complete := string(mustRead(t, filepath.Join(dir, "valid-complete.json")))
	other := randomDigest(t).String()
	forms = append(forms,
		form{Data: b64([]byte(wrap(other, complete))), What: "an answer about another digest", Step: "format"},
		form{Data: b64([]byte(`{"digest": "` + other + `", "status": "pending", "status": "pending", "proof": ` + complete + `}`)), What: "an answer with a key twice", Step: "format"},
		form{Data: b64([]byte(`{"digest": "` + other + `", "status": "pending", "index": 3}`)), What: "an answer without a proof", Step: "format", Notice: true},
		form{Data: b64([]byte(`{"digest": "` + other + `", "status": "pending", "proof": "x"}`)), What: "an answer whose proof is a string", Step: "format"},
		form{Data: b64([]byte(`{"digest": "` + other + `", "status": "pending", "index": 3, "proof": null}`)), What: "an answer whose proof is null", Step: "format", Notice: true},
		form{Data: b64([]byte(`{"error": {"code": "not_found", "message": "no timestamp for this digest"}}`)), What: "an error answer", Step: "format", Notice: true},
		form{Data: b64([]byte(`{"proof": ` + complete + `}`)), What: "an answer of the proof alone", Same: b64([]byte(complete))},
	)
	otsDir := filepath.Join("..", "..", "ots", "testdata")
	otsFiles, err := filepath.Glob(filepath.Join(otsDir, "*.ots"))
	if err != nil || len(otsFiles) < 20 {
		t.Fatalf("%d .ots files in %s: %v", len(otsFiles), otsDir, err)
	}
	for _, f := range otsFiles {
		b := mustRead(t, f)
		fm := form{Data: b64(b), What: filepath.Base(f)}
		if !ots.IsFile(b) {
			fm.Step = "format"
		} else if parsed, err := ots.ParseFile(b); err == nil {
			fm.OTSDigest = hex.EncodeToString(parsed.Digest())
		} else {
			fm.OTSDigest = "?" // malformed past its magic: an .ots, and a damaged one
		}
		forms = append(forms, fm)
	}
	// The valid .ots files altered at random, a byte changed or the file cut: the page must
	// refuse what Go refuses, and read what Go reads.
	for _, f := range otsFiles {
		orig := mustRead(t, f)
		if _, err := ots.ParseFile(orig); err != nil {
			continue
		}
		for i := range 60 {
			b := bytes.Clone(orig)
			r := randomBytes(t, 3)
			pos := len(ots.Magic) + (int(r[0])<<8|int(r[1]))%(len(b)-len(ots.Magic))
			what := ""
			if i%4 == 3 {
				b = b[:pos]
				what = fmt.Sprintf("%s cut at byte %d", filepath.Base(f), pos)
			} else {
				b[pos] ^= 1 << (r[2] % 8)
				what = fmt.Sprintf("%s with bit %d of byte %d flipped", filepath.Base(f), r[2]%8, pos)
			}
			fm := form{Data: b64(b), What: what, OTSDigest: "?"}
			if parsed, err := ots.ParseFile(b); err == nil {
				fm.OTSDigest = hex.EncodeToString(parsed.Digest())
			}
			forms = append(forms, fm)
		}
	}
	in, err := json.Marshal(forms)
	if err != nil {
		t.Fatal(err)
	}
	problems := eval[[]string](p, `(async (forms) => {
		const { checkProof } = await import("./js/proof.js");
		const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
		const out = [];
		for (const f of forms) {
			const r = await checkProof(bytes(f.data), undefined, null);
			const step = r.valid ? "" : r.step;
			if (f.otsDigest) {
				if (!r.ots) out.push(f.what + ": not recognised as an .ots (" + step + ": " + r.message + ")");
				else if (f.otsDigest === "?" && r.ots.file) out.push(f.what + ": Go's ots.ParseFile refuses it, the page reads it");
				else if (f.otsDigest !== "?" && !r.ots.file) out.push(f.what + ": Go's ots.ParseFile reads it, the page refuses it: " + r.ots.error.message);
				else if (f.otsDigest !== "?" && r.ots.file.digest !== f.otsDigest) out.push(f.what + ": the page reads the digest " + r.ots.file.digest + ", Go " + f.otsDigest);
				continue;
			}
			if (r.ots) { out.push(f.what + ": taken for an .ots"); continue; }
			let want = f.step;
			if (f.same) {
				const alone = await checkProof(bytes(f.same), undefined, null);
				want = alone.valid ? "" : alone.step;
			}
			if (step !== want) out.push(f.what + ": the page says " + (step || "valid") + " (" + (r.message || "") + "), want " + (want || "valid"));
			if (f.notice && !r.unsupported) out.push(f.what + ": said as damage, not as something to fetch again: " + r.message);
		}
		return out;
	})(`+string(in)+`)`)
	for _, pr := range problems {
		t.Error(pr)
	}
	t.Logf("%d proofs in other forms, and .ots files, read as they must be", len(forms))
}
