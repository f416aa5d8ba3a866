package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cutover/cutover/replay"
	"github.com/cutover/cutover/store"
)

func cmdExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("export", "export (--admin URL | --store PATH) [filters] [--format har|jsonl] [-o FILE]",
		"Write recorded calls, oldest first, as a HAR 1.2 log or as JSON lines (one\n"+
			"record a line, the form of GET /api/records). Only the serving calls are\n"+
			"written, never shadow copies. HAR entries carry the request (headers, query,\n"+
			"postData), the response (status, headers, content.text; base64 with\n"+
			"\"encoding\": \"base64\" when a body is not UTF-8), startedDateTime and time,\n"+
			"and \"_cutover\": {\"chain_id\", \"span_id\", \"route\", \"tenant\", \"side\"}.\n"+
			"The output is streamed: an export of any size holds one page of records.\n"+
			"cutover replay --from FILE.har sends the calls of a HAR again.\n\n"+
			"Example:\n"+
			"  cutover export --admin http://gw:9090 --route orders --since 24h -o orders.har", stderr)
	src := addSourceFlags(fs, false)
	format := fs.String("format", "har", "output `format`: har or jsonl")
	outPath := fs.String("o", "", "write to this `file` instead of stdout")
	progress := progressFlag(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintln(stderr, "cutover export:", err)
		return code
	}
	if *format != "har" && *format != "jsonl" {
		return fail(exitUsage, fmt.Errorf("unknown format %q (want har or jsonl)", *format))
	}
	showBar, err := wantBar(*progress, stderr)
	if err != nil {
		return fail(exitUsage, err)
	}
	filter, cfg, code, err := src.load(time.Now())
	if err != nil {
		return fail(code, err)
	}
	source, closeSource, err := src.open(fs, cfg, filter)
	if err != nil {
		return fail(exitError, err)
	}
	defer closeSource()
	w := stdout
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			return fail(exitError, err)
		}
		defer f.Close()
		w = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var n atomic.Uint64
	started := time.Now()
	total := int64(source.Total())
	done := showProgress(stderr, "export", func() replay.Progress {
		return replay.Progress{Done: n.Load(), Total: total, Elapsed: time.Since(started)}
	}, showBar)
	var write func(*store.Record) error
	var finish func() error
	if *format == "har" {
		hw := replay.NewHARWriter(w)
		write, finish = hw.Write, hw.Close
	} else {
		enc := json.NewEncoder(w)
		write, finish = func(r *store.Record) error { return enc.Encode(r) }, func() error { return nil }
	}
	err = source.Walk(ctx, func(r *store.Record) error {
		n.Add(1)
		return write(r)
	})
	done()
	// A stopped export still ends its HAR log, so what was written is a
	// valid file.
	if ferr := finish(); err == nil {
		err = ferr
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "cutover export: interrupted after %d calls; the output holds them\n", n.Load())
		return exitInterrupted
	case err != nil:
		return fail(exitError, err)
	}
	if *outPath != "" {
		fmt.Fprintf(stderr, "cutover export: %d calls written to %s\n", n.Load(), *outPath)
	}
	return exitOK
}
