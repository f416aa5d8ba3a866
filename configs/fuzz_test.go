package configs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the loader panic, and that every
// rejection is a located configs.Errors value.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("examples/*.yaml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(validBase))
	f.Add([]byte("routes: [{name: a, upstream: b, match: {headers: {x: [1]}}}]"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("max_body: 1e999GiB\nshutdown_timeout: -3s"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty configs.Errors", err, err)
			}
			return
		}
		if len(c.Routes) == 0 || len(c.Services) == 0 {
			t.Fatalf("accepted a config without routes or services")
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64KiB", "1.5m", "0", "-1", "9e18GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseSize(s); err == nil && v < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, v)
		}
	})
}

func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"1", "0.5%", "100", "1e2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParsePercent(s); err == nil && (v < 0 || v > 100) {
			t.Fatalf("ParsePercent(%q) = %v", s, v)
		}
	})
}
