// Package web is cutover's dashboard: plain HTML, CSS and ES modules
// embedded in the binary and served by the admin listener under /ui/.
// There is no build step: the files under ui/ are what the browser gets.
// The pages read the admin API with the bearer token the user typed once
// (kept in the tab's sessionStorage), so the files themselves are public:
// they hold no data.
//
// Every page has a URL of its own that loads directly — /ui/,
// /ui/routes/{route}, /ui/samples/{id}, /ui/chains/{id}, /ui/records —
// each answered with the same shell, whose script reads the path. Assets
// live under /ui/assets/ and are fetched from the admin listener only:
// the Content-Security-Policy allows nothing else, and no inline script.
// The one third-party file is uPlot (MIT), vendored unchanged under
// ui/assets/vendor/uplot with its LICENSE.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed ui
var files embed.FS

// Prefix is the path the dashboard is served under.
const Prefix = "/ui/"

// ContentSecurityPolicy allows the pages to load scripts, styles, images
// and API answers from their own origin only, and no inline script.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pages are the first path segments under /ui/ that answer with the shell.
var pages = map[string]bool{"": true, "routes": true, "samples": true, "chains": true, "records": true}

// asset is one embedded file, ready to serve: its bytes, gzipped when that
// is smaller, and an ETag.
type asset struct {
	body, gz []byte
	ctype    string
	etag     string
}

// Handler serves the dashboard under Prefix. It sets the security headers
// on every answer, answers a page path with the shell (index.html), an
// asset with its bytes (gzip when the client accepts it), and anything
// else with 404.
func Handler() http.Handler {
	assets := map[string]*asset{}
	// One compressor for every file: each new one allocates about a
	// megabyte of state, which would stay in the gateway's resident set.
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestCompression)
	err := fs.WalkDir(files, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := &asset{body: body, ctype: mime.TypeByExtension(path.Ext(p)), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if a.ctype == "" {
			a.ctype = "text/plain; charset=utf-8"
		}
		var buf bytes.Buffer
		zw.Reset(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
		assets[strings.TrimPrefix(p, "ui/")] = a
		return nil
	})
	if err != nil {
		panic("web: cannot read the embedded files: " + err.Error()) // the embed is fixed at build time
	}
	shell := assets["index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard is read with GET", http.StatusMethodNotAllowed)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		first, _, _ := strings.Cut(rest, "/")
		var a *asset
		switch {
		case pages[first]:
			a = shell
			// The shell names the assets; a fresh one picks up a new binary's.
			h.Set("Cache-Control", "no-cache")
		case first == "assets":
			a = assets[rest]
			h.Set("Cache-Control", "no-cache")
		}
		if a == nil || rest == "index.html" {
			http.Error(w, "no such page: "+r.URL.Path, http.StatusNotFound)
			return
		}
		serveAsset(w, r, a)
	})
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Add("Vary", "Accept-Encoding")
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
