// Command cutover is an inline reverse-proxy gateway for migrating traffic
// from an old service to its rewrite. main holds the subcommands and their
// flags, and the signals: cutover serve opens the gateway (gateway.Open),
// serves until SIGTERM or SIGINT, drains, and closes it (Gateway.Close),
// which stops the gateway's parts in their order.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/demo"
	"github.com/cutover/cutover/gateway"
	"github.com/cutover/cutover/internal/buildinfo"
	"github.com/cutover/cutover/replay"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// exitOverThreshold: cutover report or replay --max-diff-rate found a
	// route above it, or cutover rollout status --watch saw a rollout
	// rolled back.
	exitOverThreshold = 3
)

const usage = `cutover — an inline gateway for migrating traffic from an old service to its rewrite

Usage:
  cutover <command> [flags]

Commands:
  serve -c FILE    run the gateway and its admin listener
  check -c FILE    validate a config file; errors name the line and key (exit 1 on error)
  demo             a self-contained tour: demo services, the gateway in front, traffic
  bucket TENANT    which side serves a tenant on a route, and why (--route R)
  chain ID         print one chain's recorded calls as a tree, failures marked
  report           print the diff report: fields that differ between old and new
                   (--format table|json|markdown; --max-diff-rate X exits 3 above X)
  rollout CMD      watch or drive a rollout: status, pause, resume, promote,
                   rollback, events (exit 3 from status --watch: rolled back)
  replay           send recorded calls again to a target and diff its answers
                   against the recorded ones (--baseline learns noise; exits 3
                   above --max-diff-rate)
  export           write recorded calls as HAR 1.2 or JSON lines
  schema           print the config file's JSON Schema, for editors
  version          print the version

Run 'cutover <command> --help' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(rest, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "bucket":
		return cmdBucket(rest, stdout, stderr)
	case "chain":
		return cmdChain(rest, stdout, stderr)
	case "report":
		return cmdReport(rest, stdout, stderr)
	case "rollout":
		return cmdRollout(rest, stdout, stderr)
	case "replay":
		return cmdReplay(rest, stdout, stderr)
	case "export":
		return cmdExport(rest, stdout, stderr)
	case "schema":
		return cmdSchema(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "cutover", buildinfo.Version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "cutover: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// newFlagSet makes a subcommand's flag set with a usage text that says
// what the command does before listing its flags.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cutover %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; help is not an error.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "check -c FILE",
		"Validate a config file without starting anything. Every problem is listed with\nits file, line and key; the exit code is 1 when there is any.", stderr)
	file := fs.String("c", "", "config `file` to validate (required)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *file == "" {
		fmt.Fprintln(stderr, "cutover check: -c FILE is required")
		return exitUsage
	}
	cfg, err := configs.Load(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	fmt.Fprintf(stdout, "%s: ok (%s, %s)\n", *file, plural(len(cfg.Services), "service"), plural(len(cfg.Routes), "route"))
	return exitOK
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func cmdServe(args []string, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve -c FILE [--log-level LEVEL] [--log-format text|json]",
		"Run the gateway and its admin listener. The config reloads on SIGHUP, on\nPOST /api/reload and when the file changes; a bad file is refused and the\nrunning config stays. SIGTERM or SIGINT drains in-flight requests\n(shutdown_timeout) and exits 0.", stderr)
	file := fs.String("c", "", "config `file` (required)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	format := fs.String("log-format", "text", "log `format`: text or json")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *file == "" {
		fmt.Fprintln(stderr, "cutover serve: -c FILE is required")
		return exitUsage
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		fmt.Fprintln(stderr, "cutover serve:", err)
		return exitUsage
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(stderr, "cutover serve: cannot read config:", err)
		return exitError
	}
	cfg, err := configs.Parse(*file, data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	g, err := gateway.Open(cfg, *file, data, log)
	if err != nil {
		fmt.Fprintln(stderr, "cutover serve:", err)
		return exitError
	}
	serveErr := serve(g, cfg, log)
	// Close logs what it could not finish; a clean shutdown loses no
	// comparison, rollout state or record.
	_ = g.Close(context.Background())
	if serveErr != nil {
		log.Error("cutover stopped", "err", serveErr)
		return exitError
	}
	return exitOK
}

// serve runs g until SIGTERM or SIGINT, reloading on SIGHUP.
func serve(g *gateway.Gateway, cfg *configs.Config, log *slog.Logger) error {
	// Signals are caught before anything listens: once a client or an
	// orchestrator can see the gateway, SIGTERM must drain and SIGHUP must
	// reload, not take their default action of killing the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("cannot listen on admin address %s: %w", cfg.Admin.Listen, err)
	}
	admin := &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- g.Serve(ln) }()
	go func() {
		if err := admin.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin listener: %w", err)
		}
	}()
	go g.WatchFile(ctx, time.Second)
	if cfg.Store.Driver != "redis" {
		// So that cutover replay --store can name who holds the file; a
		// marker that cannot be written costs only that message.
		_ = replay.MarkHolder(cfg.Store.Path, adminLn.Addr().String())
	}
	log.Info("cutover serving", "listen", ln.Addr().String(), "admin", adminLn.Addr().String(), "version", buildinfo.Version)

	for {
		select {
		case err := <-errc:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_, _ = g.Reload()
				continue
			}
			timeout := g.Config().ShutdownTimeout.D()
			log.Info("draining", "signal", sig.String(), "timeout", timeout.String())
			drainCtx, stop := context.WithTimeout(context.Background(), timeout)
			err := g.Shutdown(drainCtx)
			stop()
			if err != nil {
				log.Warn("drain did not finish in time; remaining connections are closed", "err", err)
			}
			adminCtx, stop := context.WithTimeout(context.Background(), time.Second)
			_ = admin.Shutdown(adminCtx)
			stop()
			log.Info("stopped serving")
			return nil
		}
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid log level %q (want debug, info, warn or error)", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid log format %q (want text or json)", format)
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "demo [--requests N] [--stay]",
		"A self-contained tour that needs no setup: starts old and new demo services\non loopback, puts the gateway in front, drives traffic through it, and shows\nchain IDs, gray routing, error mapping, a recorded chain, the diff report,\ntwo automatic rollouts (one promoted to 100%, one rolled back with its\nreason) and the admin API.", stderr)
	requests := fs.Int("requests", 2000, "`number` of requests to drive through the gateway")
	stay := fs.Bool("stay", false, "keep everything running after the tour, until Ctrl-C")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if err := demo.Run(ctx, demo.Options{Requests: *requests, Stay: *stay, Out: stdout}); err != nil {
		fmt.Fprintln(stderr, "cutover demo:", err)
		return exitError
	}
	return exitOK
}
