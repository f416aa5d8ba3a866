package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/chaintree"
	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/gateway"
	"github.com/cutover/cutover/router"
)

// adminClient talks to a running gateway's admin API for the client
// commands (bucket, chain, report, rollout).
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// adminFlags adds the flags every client command shares.
func adminFlags(fs *flag.FlagSet) (base, tokenEnv *string) {
	base = fs.String("admin", "http://"+configs.DefaultAdminListen, "admin API `URL` of the running gateway")
	tokenEnv = fs.String("token-env", configs.DefaultAdminTokenEnv, "environment `variable` holding the admin bearer token, if one is set")
	return base, tokenEnv
}

func newAdminClient(base, tokenEnv string) *adminClient {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &adminClient{base: strings.TrimSuffix(base, "/"), token: os.Getenv(tokenEnv), http: &http.Client{Timeout: 30 * time.Second}}
}

// get decodes the JSON answer of GET path into v. A non-2xx answer becomes
// an error carrying the API's own message.
func (c *adminClient) get(path string, v any) error {
	return c.do(http.MethodGet, path, v)
}

// post sends POST path without a body and decodes the JSON answer into v,
// with get's error handling.
func (c *adminClient) post(path string, v any) error {
	return c.do(http.MethodPost, path, v)
}

func (c *adminClient) do(method, path string, v any) error {
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the admin API at %s (is cutover serve running? --admin sets the address): %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		var apiErr struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &apiErr) == nil && apiErr.Error != "" {
			return fmt.Errorf("%s: %s", resp.Status, apiErr.Error)
		}
		return fmt.Errorf("%s from %s", resp.Status, path)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s answered something that is not JSON: %w", path, err)
	}
	return nil
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("bucket acme --route orders") and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) (positional []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		if fs.NArg() == 0 {
			return positional, 0, true
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// oneArg parses args, flags anywhere, and returns the one positional
// argument the command takes, named what in the usage error.
func oneArg(fs *flag.FlagSet, args []string, what string) (arg string, code int, ok bool) {
	pos, code, ok := parseInterspersed(fs, args)
	if !ok {
		return "", code, false
	}
	if len(pos) != 1 || pos[0] == "" {
		fmt.Fprintf(fs.Output(), "cutover %s: give exactly one %s\n", fs.Name(), what)
		fs.Usage()
		return "", exitUsage, false
	}
	return pos[0], 0, true
}

// formatKnown reports whether format is one of known, and says which are
// when it is not.
func formatKnown(fs *flag.FlagSet, format string, known ...string) bool {
	if slices.Contains(known, format) {
		return true
	}
	want := strings.Join(known[:len(known)-1], ", ") + " or " + known[len(known)-1]
	fmt.Fprintf(fs.Output(), "cutover %s: unknown format %q (want %s)\n", fs.Name(), format, want)
	return false
}

func cmdBucket(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bucket", "bucket [--route R | --cohort C] [--env TAG] [-c FILE | --admin URL] TENANT",
		"Show which side serves a tenant on a route, and why. A tenant's sticky bucket\n"+
			"is xxhash64(\"ROUTE:TENANT\") mod 10000 (XXH64, seed 0), on a route of a\n"+
			"gray.cohort xxhash64(\"COHORT:TENANT\"), the same on every member; new serves it\n"+
			"when the bucket is below percent × 100. By default the running gateway is\n"+
			"asked, so the answer uses the current percent; with -c the config file is\n"+
			"read instead.", stderr)
	route := fs.String("route", "", "route `name`; may be left out when only one route has gray rules")
	cohort := fs.String("cohort", "", "cohort `name` (gray.cohort): place the tenant on the cohort's first route")
	env := fs.String("env", "", "environment `tag`, as sent in environments.header")
	file := fs.String("c", "", "read the gray rules from this config `file` instead of the running gateway")
	format := fs.String("format", "text", "output `format`: text or json")
	base, tokenEnv := adminFlags(fs)
	tenant, code, ok := oneArg(fs, args, "TENANT")
	if !ok {
		return code
	}
	if !formatKnown(fs, *format, "text", "json") {
		return exitUsage
	}
	if *route != "" && *cohort != "" {
		fmt.Fprintln(stderr, "cutover bucket: give --route or --cohort, not both")
		return exitUsage
	}
	info, err := bucketInfo(*file, *base, *tokenEnv, *route, *cohort, tenant, *env)
	if err != nil {
		fmt.Fprintln(stderr, "cutover bucket:", err)
		return exitError
	}
	if *format == "json" {
		return printJSON(stdout, info)
	}
	printBucket(stdout, info)
	return exitOK
}

func bucketInfo(file, base, tokenEnv, route, cohort, tenant, env string) (gateway.BucketInfo, error) {
	if file != "" {
		return bucketFromFile(file, route, cohort, tenant, env)
	}
	c := newAdminClient(base, tokenEnv)
	if route == "" {
		var routes struct {
			Routes []struct {
				Name string `json:"name"`
				Gray *struct {
					Cohort string `json:"cohort"`
				} `json:"gray"`
			} `json:"routes"`
		}
		if err := c.get("/api/routes", &routes); err != nil {
			return gateway.BucketInfo{}, err
		}
		var names, members []string
		for _, r := range routes.Routes {
			if r.Gray != nil {
				names = append(names, r.Name)
				if r.Gray.Cohort == cohort {
					members = append(members, r.Name)
				}
			}
		}
		var err error
		if route, err = pickRoute(names, members, cohort); err != nil {
			return gateway.BucketInfo{}, err
		}
	}
	q := url.Values{"tenant": {tenant}}
	if env != "" {
		q.Set("env", env)
	}
	var info gateway.BucketInfo
	err := c.get("/api/routes/"+url.PathEscape(route)+"/bucket?"+q.Encode(), &info)
	return info, err
}

// bucketFromFile places a tenant by the gray rules of a config file.
func bucketFromFile(file, route, cohort, tenant, env string) (gateway.BucketInfo, error) {
	cfg, err := configs.Load(file)
	if err != nil {
		return gateway.BucketInfo{}, err
	}
	t := router.New(cfg.Routes, cfg.Environments)
	if route == "" {
		var names, members []string
		for _, r := range t.Routes() {
			if r.HasGray() {
				names = append(names, r.Name)
				if r.Cohort() == cohort {
					members = append(members, r.Name)
				}
			}
		}
		if route, err = pickRoute(names, members, cohort); err != nil {
			return gateway.BucketInfo{}, err
		}
	}
	r := t.Route(route)
	if r == nil {
		return gateway.BucketInfo{}, fmt.Errorf("%s has no route %q", file, route)
	}
	return gateway.ExplainBucket(t, r, tenant, env), nil
}

// pickRoute names the route to place a tenant on when --route is not
// given: the first member of --cohort (every member buckets alike), or
// the only route with gray rules.
func pickRoute(gray, members []string, cohort string) (string, error) {
	if cohort == "" {
		return onlyRoute(gray)
	}
	if len(members) == 0 {
		return "", fmt.Errorf("no route is in cohort %q", cohort)
	}
	return members[0], nil
}

func onlyRoute(gray []string) (string, error) {
	switch len(gray) {
	case 1:
		return gray[0], nil
	case 0:
		return "", errors.New("no route has gray rules; name one with --route")
	}
	return "", fmt.Errorf("several routes have gray rules (%s); pick one with --route", strings.Join(gray, ", "))
}

func printBucket(w io.Writer, b gateway.BucketInfo) {
	fmt.Fprintf(w, "route    %s\ntenant   %q\n", b.Route, b.Tenant)
	key := b.Route
	if b.Cohort != "" {
		fmt.Fprintf(w, "cohort   %s   every member places the tenant alike\n", b.Cohort)
		key = b.Cohort
	}
	if b.Env != "" {
		state := "overlay"
		switch {
		case b.EnvUnknown:
			state = "no such overlay: the baseline serves"
		case b.EnvTagged:
			state = "overlay, tagged at the entry by environments.tenants"
		}
		fmt.Fprintf(w, "env      %s (%s)\n", b.Env, state)
	}
	if b.Bucket >= 0 {
		fmt.Fprintf(w, "bucket   %d   xxhash64(%q) mod 10000\n", b.Bucket, key+":"+b.Tenant)
	}
	fmt.Fprintf(w, "percent  %s", fmtPercent(b.Percent))
	if b.Percent > 0 {
		fmt.Fprintf(w, "   buckets 0–%d are served by new", int(b.Percent*100+0.5)-1)
	}
	fmt.Fprintln(w)
	var why string
	switch b.Reason {
	case router.ReasonPlain.String():
		why = "a plain route with one upstream"
	case router.ReasonNoGray.String():
		why = "the route has no gray rules"
	case router.ReasonExcluded.String():
		why = "the tenant is in gray.exclude"
	case router.ReasonListed.String():
		why = "the tenant is in gray.tenants"
	default:
		op := "≥"
		if b.Side == "new" {
			op = "<"
		}
		why = fmt.Sprintf("bucket %d %s %d", b.Bucket, op, int(b.Percent*100+0.5))
	}
	fmt.Fprintf(w, "side     %s → %s   (%s)\n", b.Side, b.Service, why)
	if b.NewFrom > 0 && b.Side == "old" {
		fmt.Fprintf(w, "new from %s\n", fmtPercent(b.NewFrom))
	}
}

func fmtPercent(p float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", p), "0"), ".") + "%"
}

func cmdChain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("chain", "chain [--admin URL] [--color auto|always|never] [--format text|json] CHAIN_ID",
		"Print the recorded calls of one chain as a tree by parent span: each call's\n"+
			"method, URI, status, route, serving side and target, latency and start offset.\n"+
			"Failed calls (an upstream error or a 5xx) are marked "+chaintree.FailedMark+", and red on a terminal.\n"+
			"The chain ID is the X-Chain-Id of any response in the chain.", stderr)
	color := fs.String("color", "auto", "`when` to color failed calls: auto (a terminal, unless NO_COLOR is set), always or never")
	format := fs.String("format", "text", "output `format`: text or json")
	base, tokenEnv := adminFlags(fs)
	id, code, ok := oneArg(fs, args, "CHAIN_ID")
	if !ok {
		return code
	}
	if !formatKnown(fs, *format, "text", "json") {
		return exitUsage
	}
	useColor, err := wantColor(*color, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "cutover chain:", err)
		return exitUsage
	}
	var tree chaintree.Tree
	if err := newAdminClient(*base, *tokenEnv).get("/api/chains/"+url.PathEscape(id), &tree); err != nil {
		fmt.Fprintln(stderr, "cutover chain:", err)
		return exitError
	}
	if *format == "json" {
		return printJSON(stdout, tree)
	}
	fmt.Fprintf(stdout, "chain %s\n", tree.ID)
	if err := chaintree.Print(stdout, tree.Roots, useColor); err != nil {
		fmt.Fprintln(stderr, "cutover chain:", err)
		return exitError
	}
	return exitOK
}

// printJSON writes v as indented JSON, the --format json of every client
// command.
func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitError
	}
	return exitOK
}

// wantColor decides whether to write ANSI colors to w.
func wantColor(mode string, w io.Writer) (bool, error) {
	return whenMode("--color", mode, func() bool { return os.Getenv("NO_COLOR") == "" && isTerminal(w) })
}

// whenMode reads an auto, always or never flag; auto asks auto.
func whenMode(name, mode string, auto func() bool) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		return auto(), nil
	}
	return false, fmt.Errorf("unknown %s %q (want auto, always or never)", name, mode)
}
