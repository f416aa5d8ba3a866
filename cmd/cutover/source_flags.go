package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/gateway"
	"github.com/cutover/cutover/message"
	"github.com/cutover/cutover/replay"
	"github.com/cutover/cutover/router"
)

// sourceFlags are the flags of replay and export that pick recorded calls:
// where they are read and which are kept.
type sourceFlags struct {
	admin, tokenEnv *string
	store           *string
	har             *string // replay only
	config          *string
	route, tenant   *string
	side            *string
	status, since   *string
	chain           *string
	limit           *int
}

func addSourceFlags(fs *flag.FlagSet, withHAR bool) *sourceFlags {
	f := &sourceFlags{}
	f.admin, f.tokenEnv = adminFlags(fs)
	f.store = fs.String("store", "", "read the embedded store `file` directly (store.path; only while no gateway holds it)")
	if withHAR {
		f.har = fs.String("from", "", "read the calls of a HAR 1.2 `file` (cutover export, a browser's DevTools, …)")
	}
	f.config = fs.String("c", "", "config `file`: each route's diff rules and noise thresholds, the redaction, and the route matcher for HAR entries without _cutover")
	f.route = fs.String("route", "", "only calls of this `route`")
	f.tenant = fs.String("tenant", "", "only calls of this `tenant`")
	f.side = fs.String("side", "", "only calls served by this `side`: old, new or upstream (with --baseline, the side it is an instance of)")
	f.status = fs.String("status", "", "only calls answered with this `status`: 502, a class 5xx, or 5")
	f.since = fs.String("since", "", "only calls started in this last `duration` (24h) or since an RFC 3339 time")
	f.chain = fs.String("chain", "", "only the calls of this chain `ID`")
	f.limit = fs.Int("limit", 0, "only the newest `N` calls (still sent oldest first); 0: all")
	return f
}

// given reports whether the named flag was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// filter reads the filter flags.
func (f *sourceFlags) filter(now time.Time) (replay.Filter, error) {
	out := replay.Filter{Route: *f.route, Tenant: *f.tenant, Side: *f.side, Limit: *f.limit}
	if *f.limit < 0 {
		return out, errors.New("--limit: want 0 or more")
	}
	var err error
	if s := *f.status; s != "" {
		if out.Status, err = gateway.ParseStatusFilter(s); err != nil {
			return out, fmt.Errorf("--status %w", err)
		}
	}
	if s := *f.since; s != "" {
		if out.Since, err = gateway.ParseSince(s, now); err != nil {
			return out, fmt.Errorf("--since %w", err)
		}
	}
	if s := *f.chain; s != "" {
		id, ok := chain.ParseChainID([]byte(s))
		if !ok {
			return out, fmt.Errorf("--chain %q: want a chain ID (32 hex digits)", s)
		}
		out.Chain = id
	}
	return out, nil
}

// load reads the filter flags and the config file of -c, if given; the
// exit code says whose fault a failure is.
func (f *sourceFlags) load(now time.Time) (replay.Filter, *configs.Config, int, error) {
	filter, err := f.filter(now)
	if err != nil {
		return filter, nil, exitUsage, err
	}
	if *f.config == "" {
		return filter, nil, 0, nil
	}
	cfg, err := configs.Load(*f.config)
	if err != nil {
		return filter, nil, exitError, err
	}
	return filter, cfg, 0, nil
}

// open opens the one source the flags name; the returned close releases
// it.
func (f *sourceFlags) open(fs *flag.FlagSet, cfg *configs.Config, filter replay.Filter) (replay.Source, func(), error) {
	har := f.har != nil && *f.har != ""
	n := 0
	for _, set := range []bool{given(fs, "admin"), *f.store != "", har} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, nil, errors.New("give one source: --admin, --store or --from")
	}
	switch {
	case *f.store != "":
		b, err := replay.OpenStore(*f.store)
		if err != nil {
			return nil, nil, err
		}
		src, err := replay.OpenPaged(b, filter)
		if err != nil {
			_ = b.Close()
			return nil, nil, err
		}
		return src, func() { _ = b.Close() }, nil
	case har:
		src, err := replay.OpenHAR(*f.har, filter, routeMatcher(cfg))
		return src, func() {}, err
	}
	c := newAdminClient(*f.admin, *f.tokenEnv)
	src, err := replay.OpenPaged(replay.AdminPager{Get: c.get}, filter)
	return src, func() {}, err
}

// routeMatcher names the route of a HAR entry by the config's routes;
// nil without a config.
func routeMatcher(cfg *configs.Config) replay.RouteOf {
	if cfg == nil {
		return nil
	}
	t := router.New(cfg.Routes, cfg.Environments)
	return func(method, host, path, headers []byte) string {
		if r := t.Match(host, method, path, headerBlock(headers)); r != nil {
			return r.Name
		}
		return ""
	}
}

// headerBlock serves router.Headers from recorded header lines.
type headerBlock []byte

func (b headerBlock) Peek(key string) []byte {
	v, _ := message.AppendValues(nil, b, key)
	return v
}

// printProgressLine writes one plain progress line, for a stderr that is
// not a terminal.
func printProgressLine(w io.Writer, verb string, p replay.Progress) {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Done) / s
	}
	eta := "?"
	if rate > 0 && p.Total > 0 {
		eta = (time.Duration(float64(max(p.Total-int64(p.Done), 0))/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(w, "cutover %s: %d/%d calls, %.1f/s, %d differing, %d errors, ETA %s\n", verb, p.Done, p.Total, rate, p.Differing, p.Errors, eta)
}
