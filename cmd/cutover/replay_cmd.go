package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/replay"
)

// exitInterrupted: Ctrl-C stopped a replay; its report was printed.
const exitInterrupted = 130

// headerList is a repeatable "Name: value" flag.
type headerList [][2]string

func (h *headerList) String() string { return "" }

func (h *headerList) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("want \"Name: value\", not %q", s)
	}
	*h = append(*h, [2]string{name, strings.TrimSpace(value)})
	return nil
}

func cmdReplay(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay", "replay (--admin URL | --store PATH | --from FILE.har) --to URL [options]",
		"Send recorded calls again to a target and compare its answers with the recorded\n"+
			"ones: a regression suite and a load test that production wrote for you.\n\n"+
			"Calls are the serving calls recorded (never shadow copies), sent oldest first\n"+
			"with their method, path and query, headers and body; each carries\n"+
			"X-Cutover-Replay: 1, cutover=replay in tracestate and a new span in the\n"+
			"recorded call's chain. Writes (methods outside --methods) are skipped and\n"+
			"counted unless --allow-writes. Answers are compared under the route's diff\n"+
			"rules from -c; with --baseline (an instance of the side that was recorded)\n"+
			"each call goes there too, and what differs between the recording and the\n"+
			"baseline is learned as noise, as a shadow secondary does. The report on\n"+
			"stdout has the shape of cutover report, plus a replay block (sent, skipped,\n"+
			"errors, rate, target latency); --max-diff-rate exits 3 above it. Progress\n"+
			"goes to stderr. Ctrl-C stops sending and prints the report of what was done.\n\n"+
			"Examples:\n"+
			"  cutover replay --admin http://gw:9090 --route orders --since 24h --to http://candidate:8080 \\\n"+
			"      --baseline http://old:8080 -c cutover.yaml --max-diff-rate 0.5%\n"+
			"  cutover replay --from yesterday.har --to http://candidate:8080 --speed 10   # a load test", stderr)
	src := addSourceFlags(fs, true)
	to := fs.String("to", "", "the target `URL` (http://host:port) that gets every call (required)")
	baseline := fs.String("baseline", "", "an instance of the recorded side (`URL`): measures noise per path")
	methods := fs.String("methods", strings.Join(replay.DefaultMethods, ","), "`methods` replayed; others are writes, skipped unless --allow-writes")
	allowWrites := fs.Bool("allow-writes", false, "send writes too (only against a target whose data may change)")
	var setHeaders headerList
	fs.Var(&setHeaders, "set-header", "add or replace a `header` on every call, \"Name: value\" (e.g. a token the recording redacted); repeatable")
	rate := fs.Float64("rate", 0, "send at most `N` calls a second")
	speed := fs.Float64("speed", 0, "keep the recorded spacing, `X` times faster (1: as recorded)")
	concurrency := fs.Int("concurrency", replay.DefaultConcurrency, "calls in `flight` at most")
	timeout := fs.Duration("timeout", replay.DefaultTimeout, "bound on each call")
	format := fs.String("format", "table", "report `format`: table, json or markdown")
	fields := fs.Int("fields", diff.DefaultLimit, "fields listed per route in table and markdown output")
	maxRate := fs.String("max-diff-rate", "", "exit 3 when a route's diff rate is above this `rate`: a percentage (0.5%) or a share (0.005)")
	out := fs.String("out", "", "write every call's outcome to this `file`, one JSON line each")
	progress := progressFlag(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintln(stderr, "cutover replay:", err)
		return code
	}
	if *to == "" {
		return fail(exitUsage, fmt.Errorf("--to URL is required"))
	}
	if *format != "table" && *format != "json" && *format != "markdown" {
		return fail(exitUsage, fmt.Errorf("unknown format %q (want table, json or markdown)", *format))
	}
	threshold := -1.0
	if *maxRate != "" {
		v, err := parseRate(*maxRate)
		if err != nil {
			return fail(exitUsage, err)
		}
		threshold = v
	}
	filter, cfg, code, err := src.load(time.Now())
	if err != nil {
		return fail(code, err)
	}
	opt := replay.Options{
		Target: *to, Baseline: *baseline, Config: cfg,
		Methods: strings.Split(*methods, ","), AllowWrites: *allowWrites, SetHeaders: setHeaders,
		Concurrency: *concurrency, Rate: *rate, Speed: *speed, Timeout: *timeout,
	}
	var outFile *os.File
	if *out != "" {
		if outFile, err = os.Create(*out); err != nil {
			return fail(exitError, err)
		}
		defer outFile.Close()
		bw := bufio.NewWriter(outFile)
		defer bw.Flush()
		enc := json.NewEncoder(bw)
		var mu sync.Mutex
		opt.Outcomes = func(o *replay.Outcome) {
			mu.Lock()
			_ = enc.Encode(o)
			mu.Unlock()
		}
	}
	showBar, err := wantBar(*progress, stderr)
	if err != nil {
		return fail(exitUsage, err)
	}
	runner, err := replay.New(opt)
	if err != nil {
		return fail(exitUsage, err)
	}
	source, closeSource, err := src.open(fs, cfg, filter)
	if err != nil {
		return fail(exitError, err)
	}
	defer closeSource()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tuneGC()
	done := showProgress(stderr, "replay", runner.Progress, showBar)
	rep, err := runner.Run(ctx, source)
	done()
	if err != nil {
		return fail(exitError, err)
	}
	switch *format {
	case "json":
		if code := printJSON(stdout, rep); code != exitOK {
			return code
		}
	case "markdown":
		err = replay.WriteMarkdown(stdout, rep, *fields)
	default:
		err = replay.WriteTable(stdout, rep, *fields)
	}
	if err != nil {
		return fail(exitError, err)
	}
	s := rep.Replay
	switch {
	case s.Interrupted:
		fmt.Fprintln(stderr, "cutover replay: interrupted; the report covers the calls sent until then")
		return exitInterrupted
	case s.Sent > 0 && s.Errors == s.Sent:
		fmt.Fprintf(stderr, "cutover replay: no call got an answer from %s (%d errors)\n", *to, s.Errors)
		return exitError
	}
	if threshold >= 0 {
		if over := diff.Exceeds(&rep.Report, threshold); len(over) > 0 {
			fmt.Fprintf(stderr, "cutover replay: diff rate above %s on %s\n", fmtRate(threshold), strings.Join(over, ", "))
			return exitOverThreshold
		}
	}
	return exitOK
}

// tuneGC trades a little memory for sending speed, unless GOGC or
// GOMEMLIMIT say otherwise: a replay's live heap is small and bounded (a
// page of records and the calls in flight) but it churns through every
// record, so collecting at 5× the live heap instead of 2× measured 6% more
// calls a second, and the soft limit keeps the peak well under 64 MB.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(48 << 20)
	}
}

// wantBar decides whether to draw a progress bar on w.
func wantBar(mode string, w io.Writer) (bool, error) {
	return whenMode("--progress", mode, func() bool { return isTerminal(w) })
}

// progressFlag adds the --progress flag of the long-running commands.
func progressFlag(fs *flag.FlagSet) *string {
	return fs.String("progress", "auto", "`when` to draw a progress bar: auto (stderr is a terminal), always, never; plain lines otherwise")
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// showProgress reports progress on w until the returned func is called:
// a progress bar when bar is set, else a plain line every few seconds.
func showProgress(w io.Writer, verb string, read func() replay.Progress, bar bool) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if !bar {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					printProgressLine(w, verb, read())
				case <-quit:
					return
				}
			}
		}
		total := read().Total
		pb := progressbar.NewOptions64(max(total, 1),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(verb),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("calls"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		update := func() {
			p := read()
			pb.Describe(fmt.Sprintf("%s: %d differing, %d errors", verb, p.Differing, p.Errors))
			_ = pb.Set64(int64(p.Done))
		}
		for {
			select {
			case <-t.C:
				update()
			case <-quit:
				update()
				_ = pb.Finish()
				return
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
	}
}
