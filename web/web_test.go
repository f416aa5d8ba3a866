package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerPages(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/ui/", "/ui/routes/orders", "/ui/samples/0123", "/ui/chains/4bf92f3577b34da6a3ce929d0e0e4736", "/ui/records"} {
		resp := get(t, h, path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<main id="app">`) {
			t.Errorf("%s: %d, want the shell: %.80s", path, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", path, got)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: content type %q", path, resp.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{"/ui/nope", "/ui/assets/nope.js", "/ui/index.html", "/ui/assets/"} {
		if resp := get(t, h, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	req := httptest.NewRequest("POST", "/ui/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("POST /ui/: %d %v", rec.Code, rec.Header())
	}
}

func TestHandlerAssets(t *testing.T) {
	h := Handler()
	resp := get(t, h, "/ui/assets/app.js")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("app.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	etag := resp.Header.Get("ETag")
	if resp := get(t, h, "/ui/assets/app.js", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: %d, want 304", resp.StatusCode)
	}
	gz := get(t, h, "/ui/assets/vendor/uplot/uPlot.iife.min.js", "Accept-Encoding", "gzip, br")
	if gz.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(gz.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("uPlot with gzip accepted: encoding %q vary %q", gz.Header.Get("Content-Encoding"), gz.Header.Get("Vary"))
	}
	if plain := get(t, h, "/ui/assets/vendor/uplot/uPlot.iife.min.js", "Accept-Encoding", "gzip;q=0"); plain.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got %q", plain.Header.Get("Content-Encoding"))
	}
}

// TestNoExternalReferences keeps every file the pages load on the admin
// listener: no URL with a scheme or protocol-relative host in the HTML,
// CSS or the dashboard's own scripts, and no inline script.
func TestNoExternalReferences(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|import\s*\(?\s*["'](https?:)?//|@import`)
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=`)
	err := fs.WalkDir(files, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "/vendor/") {
			return err
		}
		data, _ := files.ReadFile(p)
		if m := external.Find(data); m != nil {
			t.Errorf("%s refers to another host: %q", p, m)
		}
		if strings.HasSuffix(p, ".html") {
			if m := inline.Find(data); m != nil {
				t.Errorf("%s has inline script: %q", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFirstLoadSize bounds what any first page load can transfer: the
// gzipped size of every embedded file (the browser test measures the real
// transfer of /ui/).
func TestFirstLoadSize(t *testing.T) {
	h := Handler()
	total := 0
	err := fs.WalkDir(files, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		path := "/" + p
		if p == "ui/index.html" {
			path = "/ui/"
		}
		resp := get(t, h, path, "Accept-Encoding", "gzip")
		n, _ := io.Copy(io.Discard, resp.Body)
		total += int(n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("every embedded file, as served with gzip: %d bytes", total)
	if total >= 200<<10 {
		t.Errorf("the dashboard's files transfer %d bytes, want under 200 KiB", total)
	}
}
