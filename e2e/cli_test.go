package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCLI runs the binary with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIWithin(t, exitTimeout, args...)
}

// runCLIWithin is runCLI for a command that may take up to limit.
func runCLIWithin(t *testing.T, limit time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("cutover %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errb.String()
}

// TestCheckCommand: `cutover check -c` exits 0 on a good file and 1 on a
// bad one, naming each problem as file:line: key: message.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	good := write("good.yaml", `listen: "127.0.0.1:8080"
services:
  app: { targets: ["127.0.0.1:9001", "127.0.0.1:9002"], timeout: 3s }
routes:
  - name: all
    upstream: app
`)
	code, stdout, stderr := runCLI(t, "check", "-c", good)
	if code != 0 || !strings.Contains(stdout, good+": ok (1 service, 1 route)") {
		t.Errorf("check of a good file: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	for _, tc := range []struct {
		name, content string
		want          []string // lines the output must contain, %s is the file
	}{
		{"unknown key", `services:
  app: { targets: ["127.0.0.1:9001"], timeuot: 3s }
routes:
  - name: all
    upstream: app
`, []string{`%s:2: services.app.timeuot: unknown key "timeuot" (did you mean "timeout"?)`}},
		{"bad duration", `services:
  app:
    targets: ["127.0.0.1:9001"]
    timeout: 3
routes:
  - name: all
    upstream: nope
`, []string{
			`%s:4: services.app.timeout: invalid duration "3"`,
		}},
		{"validation", `services:
  app: { targets: ["127.0.0.1:9001"] }
routes:
  - name: all
    upstream: nope
`, []string{`%s:5: routes[0].upstream: unknown service "nope" (known: app)`}},
		// yaml.v3 reports some syntax errors a line early, so only the
		// file and the kind are checked here.
		{"syntax", "services:\n  app: [unclosed\n", []string{`%s:`, `YAML syntax`}},
	} {
		path := write(strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.content)
		code, stdout, stderr := runCLI(t, "check", "-c", path)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1\nstdout: %s\nstderr: %s", tc.name, code, stdout, stderr)
		}
		for _, w := range tc.want {
			w = strings.ReplaceAll(w, "%s", path)
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr does not contain %q:\n%s", tc.name, w, stderr)
			}
		}
	}

	if code, _, stderr := runCLI(t, "check", "-c", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("check of a missing file: exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI(t, "check"); code != 2 {
		t.Errorf("check without -c: exit %d, want 2 (usage)", code)
	}
}

// TestHelp: --help works for the binary and every command, exits 0 and
// prints usage.
func TestHelp(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, "--help")
	if code != 0 || !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, "serve -c FILE") || !strings.Contains(stdout, "check -c FILE") {
		t.Errorf("cutover --help: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, cmd := range []string{"serve", "check", "demo"} {
		for _, flag := range []string{"--help", "-h"} {
			code, stdout, stderr := runCLI(t, cmd, flag)
			out := stdout + stderr
			if code != 0 || !strings.Contains(out, "Usage: cutover "+cmd) {
				t.Errorf("cutover %s %s: exit %d\n%s", cmd, flag, code, out)
			}
		}
	}
	_, stdout, stderr = runCLI(t, "serve", "--help")
	if out := stdout + stderr; !strings.Contains(out, "-c file") || !strings.Contains(out, "-log-format") {
		t.Errorf("serve --help does not list its flags:\n%s", out)
	}
	if code, _, stderr := runCLI(t, "no-such-command"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI(t); code != 2 {
		t.Errorf("no command: exit %d, want 2 (usage)", code)
	}
}
