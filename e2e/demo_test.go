package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs the README's first command the way a newcomer would and
// checks that the tour shows what it promises.
func TestDemo(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, "demo", "--requests", "300")
	if code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"upstream traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-", // an incoming chain is continued
		"X-Chain-Id 4bf92f3577b34da6a3ce929d0e0e4736",
		`"reason":"refused","status":502,"chain_id":"`,
		`"reason":"no_route","status":404,"chain_id":"`,
		"300 requests in",
		"statuses map[200:300]",
		"served by: order-v1/a 150, order-v1/b 150",
		"down (skipped after a failed connection)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q\n%s", want, stdout)
		}
	}
	// The malformed trace ID was replaced by a fresh, valid one.
	if !regexp.MustCompile(`all-zero trace ID; upstream got 00-[0-9a-f]{32}-[0-9a-f]{16}-01`).MatchString(stdout) ||
		strings.Contains(stdout, "upstream got 00-00000000000000000000000000000000") {
		t.Errorf("malformed trace header not replaced:\n%s", stdout)
	}
}
