package configs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const validBase = `
services:
  app: { targets: ["127.0.0.1:9001"] }
routes:
  - name: all
    upstream: app
`

const migrationBase = `
services:
  old: { targets: ["127.0.0.1:9001"] }
  new: { targets: ["127.0.0.1:9002"] }
routes:
  - name: orders
    match: { path_prefix: /api }
    old: old
    new: new
`

func TestGrayValues(t *testing.T) {
	c, err := Parse("t.yaml", []byte(migrationBase+`    tenant:
      - header: X-Org-Id
      - query: orgId
      - cookie: org
      - path_segment: 3
      - json: user.orgId
    gray:
      tenants: [1001, "acme"]
      exclude: [42]
      percent: 0.05%
    record: { sample: 0 }
environments:
  header: X-Env
  overlays:
    feature-x: { new: old }
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if len(r.Tenant) != 5 || r.Tenant[3].PathSegment != 3 || r.Tenant[4].JSON != "user.orgId" {
		t.Errorf("tenant sources %+v", r.Tenant)
	}
	if strings.Join(r.Gray.Tenants, ",") != "1001,acme" || r.Gray.Exclude[0] != "42" || r.Gray.Percent.Basis() != 5 {
		t.Errorf("gray %+v", r.Gray)
	}
	if *r.Record.Sample != 0 || *c.Record.Sample != DefaultRecordSample {
		t.Errorf("record sample: route %v, global %v", *r.Record.Sample, *c.Record.Sample)
	}
	if c.Environments.Overlays["feature-x"]["new"] != "old" {
		t.Errorf("overlays %+v", c.Environments.Overlays)
	}
	if c.Store.Path != DefaultStorePath || c.Store.Retention.D() != DefaultRetention || c.Record.MaxBody != DefaultRecordMaxBody || len(c.Record.Redact.Headers) != 4 {
		t.Errorf("store %+v record %+v: defaults not applied", c.Store, c.Record)
	}
}

func TestShadowDefaults(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(strings.Replace(migrationBase, "services:\n", "services:\n  old-b: { targets: [\"127.0.0.1:9003\"] }\n", 1)+
		"    shadow: { secondary: old-b }\n    diff:\n      unordered: [tags, { path: items, key: sku }]\n"))
	if err != nil {
		t.Fatal(err)
	}
	sh, d := cfg.Routes[0].Shadow, cfg.Routes[0].Diff
	if *sh.Percent != 100 || !slices.Equal(sh.Methods, []string{"GET", "HEAD"}) || *sh.SecondaryPercent != 5 || sh.Timeout.D() != 2*time.Second ||
		sh.MaxBody != 1<<20 || sh.Concurrency != 64 || sh.Queue != 1024 {
		t.Errorf("shadow defaults: %+v", sh)
	}
	if d.Noise.Relative != 20 || d.Noise.Absolute != 0.03 {
		t.Errorf("noise defaults: %+v", d.Noise)
	}
	if !slices.Equal(d.Unordered, []Unordered{{Path: "tags"}, {Path: "items", Key: "sku"}}) {
		t.Errorf("unordered: %+v", d.Unordered)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte(validBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Admin.Listen != DefaultAdminListen || c.MaxBody != DefaultMaxBody {
		t.Errorf("listen %q admin %q max_body %v: defaults not applied", c.Listen, c.Admin.Listen, c.MaxBody)
	}
	if c.Chain.Header != DefaultChainHeader || strings.Join(c.Chain.Inject, ",") != "w3c" {
		t.Errorf("chain %+v: defaults not applied", c.Chain)
	}
	s := c.Services["app"]
	if s.Timeout.D() != DefaultServiceTimeout || s.FailTimeout.D() != DefaultFailTimeout || s.MaxConns != DefaultMaxConns {
		t.Errorf("service %+v: defaults not applied", s)
	}
	if c.ShutdownTimeout.D() != DefaultShutdownTimeout {
		t.Errorf("shutdown_timeout %v", c.ShutdownTimeout)
	}
	if c.Store.MaxBytes != DefaultStoreMaxBytes || c.Store.Buffer != DefaultStoreBuffer || c.Memory.Async != DefaultMemoryAsync {
		t.Errorf("store.max_bytes %v, store.buffer %v, memory.async %v: defaults not applied", c.Store.MaxBytes, c.Store.Buffer, c.Memory.Async)
	}
	if c.Record.Errors == nil || !*c.Record.Errors {
		t.Errorf("record.errors %v, want true by default", c.Record.Errors)
	}
}

// TestStoreCapDefaults: the embedded store is capped by default; Redis,
// which max_bytes does not apply to, gets no cap, and one set explicitly
// is refused.
func TestStoreCapDefaults(t *testing.T) {
	redis := "store: {driver: redis, redis: {addrs: [\"127.0.0.1:6379\"]}}\n" + validBase
	c, err := Parse("t.yaml", []byte(redis))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.MaxBytes != 0 {
		t.Errorf("redis store.max_bytes %v, want 0", c.Store.MaxBytes)
	}
	_, err = Parse("t.yaml", []byte("store: {driver: redis, max_bytes: 1GiB, redis: {addrs: [\"127.0.0.1:6379\"]}}\n"+validBase))
	if err == nil || !strings.Contains(err.Error(), "store.max_bytes: applies to the embedded store") {
		t.Errorf("redis with max_bytes: err %v", err)
	}
	c, err = Parse("t.yaml", []byte("store: {max_bytes: 10MiB}\nrecord: {errors: false}\n"+validBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.MaxBytes != 10<<20 || *c.Record.Errors {
		t.Errorf("store.max_bytes %v, record.errors %v: the file's values not kept", c.Store.MaxBytes, *c.Record.Errors)
	}
}

func TestValues(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
listen: "127.0.0.1:8080"
max_body: 64KiB
shutdown_timeout: 1m30s
trusted_proxies: ["10.0.0.0/8", "192.168.1.1"]
chain: { header: X-Request-Chain, inject: [w3c, b3, jaeger, sw8] }
services:
  old: { targets: ["127.0.0.1:9001", "localhost:9002"], timeout: 250ms, max_conns: 8 }
  new: { targets: ["127.0.0.1:9101"] }
routes:
  - name: orders
    match: { path_prefix: /api/orders, methods: [get, POST], headers: { X-Env: blue } }
    old: old
    new: new
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxBody != 64<<10 || c.ShutdownTimeout.D() != 90*time.Second {
		t.Errorf("max_body %d shutdown %v", c.MaxBody, c.ShutdownTimeout)
	}
	if got := c.Services["old"]; got.Timeout.D() != 250*time.Millisecond || got.MaxConns != 8 || len(got.Targets) != 2 {
		t.Errorf("service old %+v", got)
	}
	if got := c.Routes[0].Match.Methods; got[0] != "GET" {
		t.Errorf("methods %v: not upper-cased", got)
	}
	if c.Line("routes[0].old") != 13 {
		t.Errorf("line of routes[0].old is %d, want 13", c.Line("routes[0].old"))
	}
}

// TestErrors checks that each kind of mistake is reported at its line and
// key, with a message that says what to write instead.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // "line: key: message fragment"
	}{
		{"unknown top-level key", "lisen: x\n" + validBase, `t.yaml:1: lisen: unknown key "lisen" (did you mean "listen"?)`},
		{"unknown nested key in a flow map", `
services:
  app: { targets: ["127.0.0.1:9001"], timeot: 3s }
routes: [{ name: all, upstream: app }]
`, `t.yaml:3: services.app.timeot: unknown key "timeot" (did you mean "timeout"?)`},
		{"bad duration", `
services:
  app: { targets: ["127.0.0.1:9001"], timeout: 3 }
routes: [{ name: all, upstream: app }]
`, `t.yaml:3: services.app.timeout: invalid duration "3"`},
		{"bad size", "max_body: 12 parsecs\n" + validBase, `t.yaml:1: max_body: invalid size "12 parsecs"`},
		{"buffer over the budget", "memory: {async: 16MiB}\nstore: {buffer: 32MiB}\n" + validBase, `t.yaml:2: store.buffer: 32MiB is above memory.async (16MiB)`},
		{"wrong shape", "routes: orders\nservices: {}\n", `t.yaml:1: routes: want a list, got "orders"`},
		{"not a number", `
services:
  app: { targets: ["127.0.0.1:9001"], max_conns: many }
routes: [{ name: all, upstream: app }]
`, `t.yaml:3: services.app.max_conns: want a whole number, got "many"`},
		{"unknown service", `
services:
  app: { targets: ["127.0.0.1:9001"] }
routes:
  - name: all
    upstream: ap
`, `t.yaml:6: routes[0].upstream: unknown service "ap" (known: app)`},
		{"route without service", `
services:
  app: { targets: ["127.0.0.1:9001"] }
routes:
  - name: all
`, `t.yaml:5: routes[0]: route "all" needs upstream, or old (and new)`},
		{"both upstream and old", `
services:
  app: { targets: ["127.0.0.1:9001"] }
  b: { targets: ["127.0.0.1:9002"] }
routes:
  - name: all
    upstream: app
    old: b
`, `t.yaml:7: routes[0].upstream: a route has either upstream`},
		{"duplicate route name", validBase + "  - name: all\n    match: { path: /x }\n    upstream: app\n", `t.yaml:7: routes[1].name: route name "all" is already used by routes[0]`},
		{"duplicate match", validBase + "  - name: two\n    upstream: app\n", `t.yaml:7: routes[1].match: same match as routes[0] (all)`},
		{"path without slash", `
services: { app: { targets: ["127.0.0.1:9001"] } }
routes: [{ name: all, upstream: app, match: { path_prefix: api } }]
`, `t.yaml:3: routes[0].match.path_prefix: "api" must start with /`},
		{"target without port", `
services: { app: { targets: ["127.0.0.1"] } }
routes: [{ name: all, upstream: app }]
`, `t.yaml:2: services.app.targets[0]: "127.0.0.1" is not host:port`},
		{"unknown inject format", "chain: { inject: [w3c, zipkin] }\n" + validBase, `t.yaml:1: chain.inject[1]: unknown format "zipkin"`},
		{"admin beyond loopback without token", "admin: { listen: \"0.0.0.0:9901\", token_env: CUTOVER_TEST_UNSET_TOKEN }\n" + validBase,
			`t.yaml:1: admin.listen: 0.0.0.0:9901 listens beyond loopback, so a bearer token is required: set the environment variable CUTOVER_TEST_UNSET_TOKEN`},
		{"bad trusted proxy", "trusted_proxies: [10.0.0.0/33]\n" + validBase, `t.yaml:1: trusted_proxies[0]: "10.0.0.0/33" is neither`},
		{"yaml syntax", "services: {\n", `t.yaml:1: YAML syntax:`},
		{"empty file", "", `t.yaml: the file is empty`},
		{"two documents", validBase + "---\nlisten: x\n", `a config file holds one YAML document`},
		{"no routes", "services: { app: { targets: [\"127.0.0.1:1\"] } }\n", `routes: at least one route is required`},
		{"tenant source with two keys", migrationBase + "    tenant:\n      - { header: X-Org, query: org }\n",
			`t.yaml:11: routes[0].tenant[0]: a tenant source has exactly one of header, query, cookie, path_segment, json`},
		{"tenant source path segment below 1", migrationBase + "    tenant:\n      - path_segment: -2\n",
			`t.yaml:11: routes[0].tenant[0].path_segment: segments count from 1`},
		{"tenant header not a token", migrationBase + "    tenant:\n      - header: \"X Org\"\n",
			`t.yaml:11: routes[0].tenant[0].header: "X Org" is not a valid header name`},
		{"gray on a plain route", validBase + "    gray: { percent: 5 }\n", `t.yaml:7: routes[0].gray: gray rules need a migration route with old and new`},
		{"gray percent over 100", migrationBase + "    gray: { percent: 120 }\n", `t.yaml:10: routes[0].gray.percent: invalid percentage "120"`},
		{"gray empty tenant", migrationBase + "    gray:\n      tenants: [\"\"]\n", `t.yaml:11: routes[0].gray.tenants[0]: empty tenant`},
		{"overlays without header", "environments:\n  overlays: { fx: { new: old } }\n" + migrationBase,
			`t.yaml:1: environments.header: overlays need the header that carries the environment tag`},
		{"overlay with unknown replacement", "environments:\n  header: X-Env\n  overlays:\n    fx: { new: nope }\n" + migrationBase,
			`t.yaml:4: environments.overlays.fx.new: unknown replacement service "nope" (known: new, old)`},
		{"record sample above 1", "record: { sample: 5 }\n" + validBase, `t.yaml:1: record.sample: 5 is not a share from 0 to 1`},
		{"route record sample", migrationBase + "    record: { sample: -1 }\n", `t.yaml:10: routes[0].record.sample: -1 is not a share from 0 to 1`},
		{"unknown store driver", "store: { driver: postgres }\n" + validBase, `t.yaml:1: store.driver: unknown driver "postgres"`},
		{"redis without addrs", "store:\n  driver: redis\n" + validBase, `t.yaml:1: store.redis.addrs: the redis driver needs at least one address`},
		{"redis addr without port", "store:\n  driver: redis\n  redis:\n    addrs: [\"redis\"]\n" + validBase, `t.yaml:4: store.redis.addrs[0]: "redis" is not host:port`},
		{"redis password env unset", "store:\n  driver: redis\n  redis:\n    addrs: [\"redis:6379\"]\n    password_env: CUTOVER_TEST_UNSET_PASSWORD\n" + validBase,
			`t.yaml:5: store.redis.password_env: the environment variable CUTOVER_TEST_UNSET_PASSWORD is not set or empty`},
		{"redis cluster db", "store:\n  driver: redis\n  redis: { addrs: [\"a:1\", \"b:1\"], db: 2 }\n" + validBase, `t.yaml:3: store.redis.db: a cluster has only database 0`},
		{"redis ca without tls", "store:\n  driver: redis\n  redis: { addrs: [\"a:1\"], ca_file: ca.pem }\n" + validBase, `t.yaml:3: store.redis.ca_file: is set but store.redis.tls is false`},
		{"redis max_bytes", "store:\n  driver: redis\n  max_bytes: 1GiB\n  redis: { addrs: [\"a:1\"] }\n" + validBase, `t.yaml:3: store.max_bytes: applies to the embedded store`},
		{"bad redact path", "record: { redact: { json: [\"a..b\"] } }\n" + validBase, `t.yaml:1: record.redact.json[0]: "a..b" has an empty key`},
		{"wildcard redact path", "record: { redact: { json: [\"items.*.x\"] } }\n" + validBase, `t.yaml:1: record.redact.json[0]: "items.*.x" uses wildcards`},
		{"shadow on a plain route", validBase + "    shadow: { percent: 5 }\n", `t.yaml:7: routes[0].shadow: shadowing needs a migration route with old and new`},
		{"shadow unknown secondary", migrationBase + "    shadow: { secondary: old-b }\n", `t.yaml:10: routes[0].shadow.secondary: unknown service "old-b" (known: new, old)`},
		{"shadow secondary is old", migrationBase + "    shadow: { secondary: old }\n", `t.yaml:10: routes[0].shadow.secondary: the secondary must be a second instance of old`},
		{"shadow secondary percent alone", migrationBase + "    shadow: { secondary_percent: 5 }\n", `t.yaml:10: routes[0].shadow.secondary_percent: needs shadow.secondary`},
		{"shadow bad method", migrationBase + "    shadow:\n      methods: [\"GE T\"]\n", `t.yaml:11: routes[0].shadow.methods[0]: "GE T" is not a valid method`},
		{"shadow percent over 100", migrationBase + "    shadow: { percent: 101 }\n", `t.yaml:10: routes[0].shadow.percent: invalid percentage "101"`},
		{"diff auto_noise without shadow", migrationBase + "    diff:\n      auto_noise: true\n", `t.yaml:11: routes[0].diff.auto_noise: needs shadow`},
		{"diff auto_noise with a secondary", "services:\n  old-b: { targets: [\"127.0.0.1:9003\"] }\n" + strings.Replace(migrationBase, "services:\n", "", 1) +
			"    shadow: { secondary: old-b }\n    diff:\n      auto_noise: true\n", `routes[0].diff.auto_noise: has no effect with shadow.secondary`},
		{"diff bad ignore path", migrationBase + "    diff:\n      ignore: [\"meta..id\"]\n", `t.yaml:11: routes[0].diff.ignore[0]: "meta..id" has an empty key`},
		{"diff unordered unknown key", migrationBase + "    diff:\n      unordered: [{ path: items, by: sku }]\n", `t.yaml:11: routes[0].diff.unordered[0]: unknown key "by"`},
		{"diff unordered wildcard", migrationBase + "    diff:\n      unordered: [\"items.*\"]\n", `t.yaml:11: routes[0].diff.unordered[0]: "items.*" uses wildcards`},
		{"diff negative epsilon", migrationBase + "    diff: { float_epsilon: -1 }\n", `t.yaml:10: routes[0].diff.float_epsilon: must be 0 or above`},
		{"diff bad header", migrationBase + "    diff: { headers: [\"Content Type\"] }\n", `t.yaml:10: routes[0].diff.headers[0]: "Content Type" is not a valid header name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not configs.Errors", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

func TestAllErrorsReportedAtOnce(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`
listen: nope
services:
  app: { targets: ["127.0.0.1:9001"], timeout: soon }
routes: [{ name: all, upstream: app, nope: 1 }]
`))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("want 2 decode errors at once, got %v", err)
	}
}

func TestAdminTokenFromEnv(t *testing.T) {
	t.Setenv("CUTOVER_TEST_TOKEN", "s3cret")
	c, err := Parse("t.yaml", []byte("admin: { listen: \"0.0.0.0:9901\", token_env: CUTOVER_TEST_TOKEN }\n"+validBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Token != "s3cret" {
		t.Errorf("token %q", c.Admin.Token)
	}
}

func TestAdminReadToken(t *testing.T) {
	t.Setenv("CUTOVER_TEST_TOKEN", "s3cret")
	t.Setenv("CUTOVER_TEST_READ", "look")
	t.Setenv("CUTOVER_TEST_SAME", "s3cret")
	c, err := Parse("t.yaml", []byte("admin: { token_env: CUTOVER_TEST_TOKEN, read_token_env: CUTOVER_TEST_READ }\n"+validBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.ReadToken != "look" {
		t.Errorf("read token %q", c.Admin.ReadToken)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"admin: { token_env: CUTOVER_TEST_UNSET_TOKEN, read_token_env: CUTOVER_TEST_READ }\n", "t.yaml:1: admin.read_token_env: a read-only token needs a full-access one"},
		{"admin: { token_env: CUTOVER_TEST_TOKEN, read_token_env: CUTOVER_TEST_SAME }\n", "t.yaml:1: admin.read_token_env: the read-only token (CUTOVER_TEST_SAME) equals the full-access token"},
	} {
		if _, err := Parse("t.yaml", []byte(tc.yaml+validBase)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestExamplesAreValid(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want not-exist", err)
	}
}
