package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestReplayAndExportFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"replay", "--help"}, exitOK, "--max-diff-rate"},
		{[]string{"export", "--help"}, exitOK, "HAR 1.2"},
		{[]string{"replay", "--admin", "127.0.0.1:1"}, exitUsage, "--to URL is required"},
		{[]string{"replay", "--to", "http://127.0.0.1:1", "--status", "5x"}, exitUsage, "--status"},
		{[]string{"replay", "--to", "http://127.0.0.1:1", "--since", "yesterday"}, exitUsage, "--since"},
		{[]string{"replay", "--to", "http://127.0.0.1:1", "--chain", "xyz"}, exitUsage, "--chain"},
		{[]string{"replay", "--to", "http://127.0.0.1:1", "--set-header", "no colon"}, exitUsage, "Name: value"},
		{[]string{"replay", "--to", "http://127.0.0.1:1", "--rate", "5", "--speed", "2"}, exitUsage, "not both"},
		{[]string{"replay", "--to", "https://127.0.0.1:1"}, exitUsage, "plain http"},
		{[]string{"replay", "--to", "http://127.0.0.1:1", "--progress", "sometimes"}, exitUsage, "--progress"},
		{[]string{"replay", "--to", "http://127.0.0.1:1", "--admin", "127.0.0.1:1", "--from", "x.har"}, exitError, "give one source"},
		{[]string{"replay", "--to", "http://127.0.0.1:1", "--store", "/nonexistent/cutover.db"}, exitError, "cannot open store"},
		{[]string{"export", "--format", "xml"}, exitUsage, "har or jsonl"},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("cutover %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, errb.String(), tc.code, tc.want)
		}
	}
}

func TestHeaderList(t *testing.T) {
	var h headerList
	if err := h.Set("Authorization:  Bearer abc "); err != nil || len(h) != 1 || h[0] != [2]string{"Authorization", "Bearer abc"} {
		t.Errorf("Set: %v %v", err, h)
	}
	if err := h.Set(": x"); err == nil {
		t.Error("a header without a name was accepted")
	}
}
