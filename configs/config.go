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
package configs

import "time"

// Defaults applied by Load when a key is absent or zero.
const (
	DefaultListen          = ":8080"
	DefaultAdminListen     = "127.0.0.1:9901"
	DefaultAdminTokenEnv   = "CUTOVER_ADMIN_TOKEN"
	DefaultMaxBody         = 32 << 20
	DefaultShutdownTimeout = 10 * time.Second
	DefaultChainHeader     = "X-Chain-Id"
	DefaultServiceTimeout  = 15 * time.Second
	DefaultFailTimeout     = 10 * time.Second
	DefaultMaxConns        = 1024
)

// DefaultInject is the list of trace formats written upstream when
// chain.inject is absent.
var DefaultInject = []string{"w3c"}

// Config is one cutover configuration file.
type Config struct {
	// Listen is the proxy's address, host:port. Changing it needs a restart.
	Listen string `yaml:"listen"`
	// DebugHeaders adds X-Cutover-Side: old|new to responses.
	DebugHeaders bool `yaml:"debug_headers"`
	// MaxBody is the largest request body accepted; larger ones get 413.
	// Changing it needs a restart.
	MaxBody Size `yaml:"max_body"`
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// TrustedProxies are the addresses or CIDR prefixes of proxies in front
	// of cutover whose X-Forwarded-* headers are believed and extended.
	// From any other peer those headers are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Admin is the separate listener for health, metrics and the API.
	Admin Admin `yaml:"admin"`
	// Chain says how chain IDs are read and written.
	Chain Chain `yaml:"chain"`
	// Services are named upstream pools that routes refer to.
	Services map[string]*Service `yaml:"services"`
	// Routes are matched most specific first, not in file order.
	Routes []*Route `yaml:"routes"`

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
}

// Chain configures chain-ID propagation.
type Chain struct {
	// Header carries the chain ID (32 hex) to upstreams and on responses.
	Header string `yaml:"header"`
	// Inject lists the trace formats written upstream: w3c, b3, jaeger, sw8.
	Inject []string `yaml:"inject"`
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
	Host string `yaml:"host"`
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
}

// Match is the request selector of a route. All given conditions must hold.
type Match struct {
	// Host matches the Host header exactly (case-insensitive, port ignored).
	Host string `yaml:"host"`
	// Path matches the path exactly.
	Path string `yaml:"path"`
	// PathPrefix matches the path itself and everything below it
	// ("/api/orders" matches "/api/orders/7", not "/api/ordersX").
	PathPrefix string `yaml:"path_prefix"`
	// Methods lists accepted methods; empty accepts all.
	Methods []string `yaml:"methods"`
	// Headers must all be present with exactly these values.
	Headers map[string]string `yaml:"headers"`
}

// Line returns the line of the key at path (for example "routes[0].old"),
// or 0 when the key was not in the file.
func (c *Config) Line(path string) int { return c.lines[path] }
