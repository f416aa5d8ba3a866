// Package configs owns cutover's YAML configuration: the documented schema,
// its defaults, and validation whose every error names the file, the line and
// the key. It holds no runtime state: a loaded Config is a plain value that
// the router and gateway compile into their own immutable tables.
//
// Decoding is strict. Unknown keys are errors, and so are values of the wrong
// shape. yaml.v3's own strict mode reports unknown keys by line only, and a
// flow mapping (`{ targets: [...], timeout: 3s }`) puts several keys on one
// line, so the loader walks the YAML node tree itself and records the path of
// every key ("routes[0].match.path_prefix") with its line.
//
// cutover.schema.json, the JSON Schema editors validate against, is
// generated from these structs and their doc comments (schema.go). After
// adding or changing a key, regenerate it with
//
//	go generate ./configs
//
// (the same as go test ./configs -run TestSchemaUpToDate -update);
// TestSchemaUpToDate fails until then.
package configs

// DiffKinds are the difference kinds block_kinds may name.
var DiffKinds = []string{"value", "type", "missing", "extra", "order", "length", "status", "header", "body"}

// Config is one cutover configuration file.
type Config struct {
	// Listen is the proxy's address, host:port. Changing it needs a restart.
	Listen string `yaml:"listen"`
	// DebugHeaders adds X-Cutover-Side: old|new to responses.
	DebugHeaders bool `yaml:"debug_headers"`
	// MaxBody is the largest request body accepted; larger ones get 413.
	MaxBody Size `yaml:"max_body"`
	// StreamAbove: request and response bodies longer than this, or of
	// unknown length, pass through as they arrive instead of being read
	// whole first.
	StreamAbove Size `yaml:"stream_above"`
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// ClientHeaderTimeout bounds the time from a connection's start, or
	// from the first byte of a keep-alive connection's next request, to
	// the end of the request's header. Past it the request gets 408, or
	// the connection is closed when nothing was received. Changing it
	// needs a restart.
	ClientHeaderTimeout Duration `yaml:"client_header_timeout"`
	// TrustedProxies are the addresses or CIDR prefixes of proxies in front
	// of cutover whose X-Forwarded-* headers are believed and extended.
	// From any other peer those headers are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Admin is the separate listener for health, metrics and the API.
	Admin Admin `yaml:"admin"`
	// Chain says how chain IDs are read and written.
	Chain Chain `yaml:"chain"`
	// Store is where records are kept.
	Store Store `yaml:"store"`
	// Record says which calls are recorded and what is kept of them.
	Record Record `yaml:"record"`
	// Memory bounds what is held in memory after clients are answered.
	Memory Memory `yaml:"memory"`
	// Environments overlay feature environments on the baseline services.
	Environments Environments `yaml:"environments"`
	// Services are named upstream pools that routes refer to.
	Services map[string]*Service `yaml:"services"`
	// Routes are matched most specific first, not in file order.
	Routes []*Route `yaml:"routes"`
	// Tracing exports the calls cutover serves and makes as spans.
	Tracing Tracing `yaml:"tracing"`

	// File is the path the config was read from ("" when parsed from bytes).
	File string `yaml:"-"`
	// lines maps a key path such as "routes[0].old" to its line, for errors
	// found after decoding.
	lines map[string]int
}

// Admin configures the admin listener.
type Admin struct {
	// Listen is host:port. Loopback by default; any other address requires
	// a token. Changing it needs a restart.
	Listen string `yaml:"listen"`
	// TokenEnv names the environment variable holding the bearer token.
	TokenEnv string `yaml:"token_env"`
	// Token is the resolved value of TokenEnv; empty means no token.
	Token string `yaml:"-"`
	// ExternalURL is how people reach the admin listener
	// ("https://cutover-admin.example.com"), for links in notifications.
	// Empty means notifications carry no link.
	ExternalURL string `yaml:"external_url"`
	// ReadTokenEnv optionally names the environment variable holding a
	// read-only bearer token: GET requests only, any action answers 403.
	// It needs the full-access token too.
	ReadTokenEnv string `yaml:"read_token_env"`
	// ReadToken is the resolved value of ReadTokenEnv; empty means none.
	ReadToken string `yaml:"-"`
}

// Chain configures chain-ID propagation.
type Chain struct {
	// Header carries the chain ID (32 hex) to upstreams and on responses.
	Header string `yaml:"header"`
	// Inject lists the trace formats written upstream: w3c, b3, jaeger, sw8.
	Inject []string `yaml:"inject"`
}

// Store configures persistence. Changing it needs a restart.
type Store struct {
	// Driver is "embedded" (an index file and segment files on local disk)
	// or "redis" (shared by every replica that names the same Redis).
	Driver string `yaml:"driver"`
	// Path is the embedded store's index file; records go to segment files
	// in Path + ".segments". The directory is created.
	Path string `yaml:"path" json:"path,omitempty"`
	// Retention is how long records are kept.
	Retention Duration `yaml:"retention"`
	// MaxBytes caps the embedded store's records; the oldest go first.
	// Default 2GiB. Deleted records' segment files are removed, so the disk
	// shrinks. Not for redis: bound Redis with its maxmemory setting.
	MaxBytes Size `yaml:"max_bytes"`
	// Buffer bounds the records, and separately the samples, held in
	// memory while the store cannot be written; beyond it the oldest are
	// dropped and counted. They are part of memory.async, so it is at most
	// memory.async. Default 32MiB.
	Buffer Size `yaml:"buffer"`
	// Redis configures the redis driver.
	Redis Redis `yaml:"redis"`
}

// Tracing configures the export of spans.
type Tracing struct {
	// OTLP exports every proxied call as a span of its chain to an
	// OpenTelemetry collector over OTLP/HTTP. Absent: no spans.
	OTLP *OTLP `yaml:"otlp"`
}

// OTLP configures span export over OTLP/HTTP. Changing endpoint or
// service_name, or adding or removing the block, needs a restart; sample
// applies on reload.
type OTLP struct {
	// Endpoint is the collector's OTLP/HTTP base URL
	// (http://otel-collector:4318); /v1/traces is appended. Required.
	Endpoint string `yaml:"endpoint"`
	// Sample is the share of chains exported, 0 to 1, chosen by chain ID
	// as record.sample is, so every hop of a chain is exported or none.
	// Default 1.
	Sample *float64 `yaml:"sample"`
	// ServiceName is the spans' service.name. Default cutover.
	ServiceName string `yaml:"service_name"`
}

// Redis configures the shared store.
type Redis struct {
	// Addrs are host:port: one address is a standalone server, several
	// are cluster seeds; with MasterName they are sentinels.
	Addrs []string `yaml:"addrs"`
	// MasterName selects sentinel: the name of the monitored master.
	MasterName string `yaml:"master_name"`
	// Username is the ACL user; empty for the default user.
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
	// Password is the resolved value of PasswordEnv.
	Password string `yaml:"-"`
	// DB is the database number (standalone and sentinel).
	DB int `yaml:"db"`
	// TLS connects with TLS; CAFile, when set, is the PEM bundle that
	// signs the servers' certificates instead of the system's roots.
	TLS    bool   `yaml:"tls"`
	CAFile string `yaml:"ca_file"`
	// Prefix starts every key, so deployments can share one Redis.
	Prefix string `yaml:"prefix"`
}

// Record configures the recording of calls.
type Record struct {
	// Sample is the share of chains recorded, 0 to 1. The choice is made by
	// chain ID, so every hop of a chain is recorded or none. Default 1.
	Sample *float64 `yaml:"sample"`
	// MaxBody is how much of each request and response body is kept;
	// longer bodies are cut and marked truncated.
	MaxBody Size `yaml:"max_body"`
	// Errors records every failing call (a 5xx answer or a failed
	// upstream call), also of chains that sample leaves out. Default true.
	Errors *bool `yaml:"errors"`
	// Redact lists what is replaced by "[redacted]" before storing.
	Redact Redact `yaml:"redact"`
}

// Memory bounds the bytes cutover holds after answering clients.
type Memory struct {
	// Async is one budget, in bytes, for every copy held after the client
	// is answered: shadow copies, records queued for the store or held for
	// a retry, comparison samples held for a retry. A copy that does not
	// fit is dropped and counted under reason "budget". Default 64MiB.
	// Changing it needs a restart.
	Async Size `yaml:"async"`
}

// Redact names header and JSON fields whose values are never stored.
type Redact struct {
	// Headers are header names, case-insensitive.
	Headers []string `yaml:"headers"`
	// JSON are gjson-style paths into JSON bodies: "card.number",
	// "items.#.token" for every array element, or a bare name ("password")
	// matching that key at any depth.
	JSON []string `yaml:"json"`
	// ExactCase compares JSON keys byte for byte. By default they are
	// compared case-insensitively, so "Password" is redacted by the rule
	// "password", as services that bind keys case-insensitively read it.
	ExactCase bool `yaml:"exact_case"`
}

// Environments selects overlay services by a request header.
type Environments struct {
	// Header carries the environment tag, e.g. X-Env. It is forwarded
	// upstream so that calls a service makes through cutover stay in it.
	Header string `yaml:"header"`
	// Overlays maps a tag to service replacements: when the gray decision
	// picks a service named here, its replacement serves instead.
	Overlays map[string]map[string]string `yaml:"overlays"`
	// Tenants tags tenants at the entry: a request from a tenant listed
	// under a tag that arrives without Header gets Header: tag injected
	// at the first hop, and then travels as if the client had sent it.
	// A tenant is listed under one tag at most.
	Tenants map[string][]string `yaml:"tenants"`
}

// Service is a pool of interchangeable upstream targets.
type Service struct {
	// Targets are host:port addresses, used round robin.
	Targets []string `yaml:"targets"`
	// Timeout bounds one upstream call, from sending the request to
	// receiving the whole response; above it the client gets 504.
	Timeout Duration `yaml:"timeout"`
	// FailTimeout is how long a target that failed to connect or answer is
	// skipped (passive health checking).
	FailTimeout Duration `yaml:"fail_timeout"`
	// MaxConns caps open connections per target.
	MaxConns int `yaml:"max_conns"`
	// Host, when set, replaces the Host header sent upstream. By default the
	// client's Host is kept.
	Host string `yaml:"host" json:"host,omitempty"`
}

// Route sends matching requests to a service.
type Route struct {
	// Name identifies the route in metrics, reports and the API.
	Name string `yaml:"name"`
	// Match selects requests; an empty match matches every request.
	Match Match `yaml:"match"`
	// Upstream is the single service of a plain route.
	Upstream string `yaml:"upstream"`
	// Old is the service being migrated away from; it serves by default.
	Old string `yaml:"old"`
	// New is the service being migrated to.
	New string `yaml:"new"`
	// Tenant lists where the tenant is read from, first found wins.
	Tenant []*TenantSource `yaml:"tenant"`
	// Gray decides which tenants new serves. Without it old serves all.
	Gray *Gray `yaml:"gray"`
	// Record overrides the global recording settings for this route.
	Record *RouteRecord `yaml:"record"`
	// Shadow sends copies of requests to the side that did not serve, so
	// that old and new answers can be compared. Migration routes only.
	Shadow *Shadow `yaml:"shadow"`
	// Diff says what counts as a difference between old and new answers.
	Diff *Diff `yaml:"diff"`
	// Rollout ramps the share served by new step by step while the
	// answers agree, and rolls back when they do not. Needs shadow.
	Rollout *Rollout `yaml:"rollout"`
}

// Rollout is a route's automatic ramp from old to new. While it runs, it
// sets the route's percent; gray.percent is not used.
type Rollout struct {
	// Steps are the percents served by new, increasing, the last 100.
	// Default 1, 2, 10, 20, 40, 80, 100.
	Steps []Percent `yaml:"steps"`
	// MinSamples is how many compared old/new pairs a step needs before
	// it can advance. Default 500.
	MinSamples int `yaml:"min_samples"`
	// MinDuration is how long a step lasts at least. Default 10m.
	MinDuration Duration `yaml:"min_duration"`
	// MaxDiffRate is the largest share of pairs with a non-noise
	// difference a step may show. Default 0.5%.
	MaxDiffRate *Percent `yaml:"max_diff_rate"`
	// MaxErrorRate is the largest share of new's calls (served and
	// shadow) answered 5xx or failed. Default 1%.
	MaxErrorRate *Percent `yaml:"max_error_rate"`
	// MaxP99Ratio is the largest new p99 / old p99. Default 1.5.
	MaxP99Ratio *float64 `yaml:"max_p99_ratio"`
	// OnFail is what a failed step does: rollback (to 0%) or hold (stay
	// and wait for a decision by hand). Default rollback.
	OnFail string `yaml:"on_fail"`
	// BlockKinds lists difference kinds that fail a step at their first
	// non-noise occurrence, whatever the rate: [missing, type] catches a
	// schema break.
	BlockKinds []string `yaml:"block_kinds"`
	// Confidence is the level of the Wilson intervals the gate reads.
	// Default 95%.
	Confidence Percent `yaml:"confidence"`
	// Webhook gets every transition as a POST: a URL, or {url, format}.
	Webhook Webhook `yaml:"webhook"`
}

// Shadow configures the copies of a route's requests sent to the side
// that did not serve. The client's answer never waits for them.
type Shadow struct {
	// Percent is the share of requests shadowed, chosen by chain ID so a
	// chain is shadowed at every hop or none. Default 100 when the block
	// is present.
	Percent *Percent `yaml:"percent"`
	// Methods lists the methods shadowed; a write is copied only when its
	// method is listed. Default GET, HEAD.
	Methods []string `yaml:"methods" json:"methods,omitempty"`
	// Secondary is a second instance of old that gets a third copy, to
	// measure how often old differs from itself (noise).
	Secondary string `yaml:"secondary"`
	// SecondaryPercent is the share of shadowed requests also sent to the
	// secondary. Default 5 when a secondary is set.
	SecondaryPercent *Percent `yaml:"secondary_percent"`
	// Timeout is the shadow call's own deadline. Default 2s.
	Timeout Duration `yaml:"timeout"`
	// MaxBody caps the request body and both response bodies of a
	// shadowed request; a larger one skips the comparison and is counted
	// as body_too_large. Default 1MiB.
	MaxBody Size `yaml:"max_body"`
	// Concurrency caps the route's shadow calls in flight. Default 64.
	Concurrency int `yaml:"concurrency"`
	// Queue caps the route's shadow copies waiting for a free call; a
	// copy that finds it full is dropped and counted. Default 1024.
	Queue int `yaml:"queue"`
}

// Diff holds a route's comparison rules and noise thresholds.
type Diff struct {
	// Ignore lists JSON paths whose differences are dropped with their
	// subtrees: "meta.requestId", "items.#.updatedAt", or a bare name
	// matching that key at any depth.
	Ignore []string `yaml:"ignore"`
	// Unordered lists arrays compared without regard to order: a path
	// ("items") compares them as multisets; {path: items, key: sku}
	// matches elements by their sku.
	Unordered []Unordered `yaml:"unordered"`
	// FloatEpsilon: numbers within this distance (absolute, or relative to
	// the larger) are equal.
	FloatEpsilon float64 `yaml:"float_epsilon"`
	// Headers lists response headers compared by value.
	Headers []string `yaml:"headers"`
	// NullEqualsMissing: null on one side and absent on the other is no
	// difference.
	NullEqualsMissing bool `yaml:"null_equals_missing"`
	// NumericStrings: "1" equals 1.
	NumericStrings bool `yaml:"numeric_strings"`
	// TimeTolerance: RFC 3339 times this close are equal.
	TimeTolerance Duration `yaml:"time_tolerance"`
	// Noise sets when a path's difference rate is only noise.
	Noise Noise `yaml:"noise"`
	// AutoNoise treats as noise the paths flagged likely noise on a route
	// without shadow.secondary: values that look generated per call (times
	// near the call's, UUIDs, long random hex or base64) and differ on
	// nearly every pair. They then count toward neither the diff rate nor
	// the rollout gate. Default false: they are flagged, not suppressed.
	AutoNoise bool `yaml:"auto_noise"`
}

// Noise holds the thresholds above which a path's old-vs-new difference
// rate counts as real rather than as the noise old shows against itself.
// A path is real when its rate is above its noise rate by more than
// Absolute and by more than Relative of its rate.
type Noise struct {
	// Relative is the share of a path's rate that must exceed its noise
	// rate. Default 20%.
	Relative Percent `yaml:"relative"`
	// Absolute is the margin, in percentage points, by which a path's rate
	// must exceed its noise rate. Default 0.03%.
	Absolute Percent `yaml:"absolute"`
}

// Unordered names an array compared without regard to order. It is
// written as a path, or as a mapping with path and key.
type Unordered struct {
	// Path follows the ignore syntax.
	Path string
	// Key, when set, matches elements by this field instead of by value.
	Key string
}

// TenantSource is one place a tenant can be read from. Exactly one field
// is set.
type TenantSource struct {
	// Header is a request header name.
	Header string `yaml:"header"`
	// Query is a query parameter name.
	Query string `yaml:"query"`
	// Cookie is a cookie name.
	Cookie string `yaml:"cookie"`
	// PathSegment is the 1-based index of a path segment: 3 reads "42"
	// from /api/orgs/42/orders.
	PathSegment int `yaml:"path_segment"`
	// JSON is a gjson path into a JSON request body, read only when the
	// body is JSON and at most 64 KiB.
	JSON string `yaml:"json"`
}

// Gray holds a migration route's split between old and new.
type Gray struct {
	// Tenants are always served by new.
	Tenants []string `yaml:"tenants"`
	// Exclude are never served by new; it wins over Tenants.
	Exclude []string `yaml:"exclude"`
	// Percent is the share of other tenants served by new, sticky: a
	// tenant is new when xxhash64(route ":" tenant) mod 10000 is below
	// percent × 100 (xxhash64(cohort ":" tenant) in a cohort).
	Percent Percent `yaml:"percent"`
	// Cohort names a set of routes that move the same tenants together:
	// they bucket by the cohort's name instead of their own, carry the
	// side in W3C baggage, and share one percent and one rollout, so
	// their members must agree on percent and rollout rules.
	Cohort string `yaml:"cohort"`
}

// RouteRecord overrides recording for one route.
type RouteRecord struct {
	// Sample is the share of this route's chains recorded, 0 to 1.
	Sample *float64 `yaml:"sample"`
}

// Match is the request selector of a route. All given conditions must hold.
// Its JSON form, which the admin API shows, uses the keys of the file.
type Match struct {
	// Host matches the Host header exactly (case-insensitive, port ignored).
	Host string `yaml:"host"`
	// Path matches the path exactly.
	Path string `yaml:"path"`
	// PathPrefix matches the path itself and everything below it
	// ("/api/orders" matches "/api/orders/7", not "/api/ordersX").
	PathPrefix string `yaml:"path_prefix" json:"path_prefix,omitempty"`
	// Methods lists accepted methods; empty accepts all.
	Methods []string `yaml:"methods"`
	// Headers must all be present with exactly these values.
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
}

// Line returns the line of the key at path (for example "routes[0].old"),
// or 0 when the key was not in the file.
func (c *Config) Line(path string) int { return c.lines[path] }
