package configs

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// InjectFormats are the trace formats chain.inject accepts.
var InjectFormats = []string{"w3c", "b3", "jaeger", "sw8"}

// errorf records a problem at path, placed at the nearest line known for
// path or one of its parents (a missing key has no line of its own).
func (c *Config) errorf(errs *Errors, path, format string, args ...any) {
	line := 0
	for p := path; p != ""; p = parent(p) {
		if l, ok := c.lines[p]; ok {
			line = l
			break
		}
	}
	*errs = append(*errs, &Error{File: c.File, Line: line, Key: path, Msg: fmt.Sprintf(format, args...)})
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (c *Config) validate() Errors {
	var errs Errors
	if err := checkHostPort(c.Listen); err != nil {
		c.errorf(&errs, "listen", "%v", err)
	}
	if c.MaxBody <= 0 {
		c.errorf(&errs, "max_body", "must be above 0")
	}
	if c.StreamAbove < 0 {
		c.errorf(&errs, "stream_above", "must be above 0")
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				c.errorf(&errs, "trusted_proxies["+strconv.Itoa(i)+"]", "%q is neither an IP address nor a CIDR prefix", p)
			}
		}
	}
	c.validateAdmin(&errs)
	if !isToken(c.Chain.Header) {
		c.errorf(&errs, "chain.header", "%q is not a valid header name", c.Chain.Header)
	}
	for i, f := range c.Chain.Inject {
		if !slices.Contains(InjectFormats, f) {
			c.errorf(&errs, "chain.inject["+strconv.Itoa(i)+"]", "unknown format %q (want one of %s)", f, strings.Join(InjectFormats, ", "))
		}
	}
	c.validateStore(&errs)
	c.validateRecord(&errs)
	c.validateTracing(&errs)
	if len(c.Services) == 0 {
		c.errorf(&errs, "services", "at least one service is required")
	}
	c.validateEnvironments(&errs)
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		c.validateService(&errs, name, c.Services[name])
	}
	if len(c.Routes) == 0 {
		c.errorf(&errs, "routes", "at least one route is required")
	}
	names := map[string]int{}
	matches := map[string]int{}
	for i, r := range c.Routes {
		path := "routes[" + strconv.Itoa(i) + "]"
		if r == nil {
			c.errorf(&errs, path, "empty route")
			continue
		}
		c.validateRoute(&errs, path, r)
		if j, dup := names[r.Name]; dup && r.Name != "" {
			c.errorf(&errs, path+".name", "route name %q is already used by routes[%d]", r.Name, j)
		}
		names[r.Name] = i
		key := r.Match.key()
		if j, dup := matches[key]; dup {
			c.errorf(&errs, path+".match", "same match as routes[%d] (%s): this route would never be used", j, c.Routes[j].Name)
		}
		matches[key] = i
	}
	c.validateCohorts(&errs)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}

func (c *Config) validateAdmin(errs *Errors) {
	if err := checkHostPort(c.Admin.Listen); err != nil {
		c.errorf(errs, "admin.listen", "%v", err)
		return
	}
	if c.Admin.Token == "" && !IsLoopback(c.Admin.Listen) {
		c.errorf(errs, "admin.listen", "%s listens beyond loopback, so a bearer token is required: set the environment variable %s (named by admin.token_env)", c.Admin.Listen, c.Admin.TokenEnv)
	}
	switch {
	case c.Admin.ReadToken != "" && c.Admin.Token == "":
		c.errorf(errs, "admin.read_token_env", "a read-only token needs a full-access one: set the environment variable %s (named by admin.token_env) too, or every caller without a token would have full access", c.Admin.TokenEnv)
	case c.Admin.ReadToken != "" && c.Admin.ReadToken == c.Admin.Token:
		c.errorf(errs, "admin.read_token_env", "the read-only token (%s) equals the full-access token (%s): give them different values", c.Admin.ReadTokenEnv, c.Admin.TokenEnv)
	}
	if u := c.Admin.ExternalURL; u != "" && !isHTTPURL(u) {
		c.errorf(errs, "admin.external_url", "%q is not an http:// or https:// URL", u)
	}
}

// isHTTPURL reports whether s is an absolute http:// or https:// URL.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (c *Config) validateService(errs *Errors, name string, s *Service) {
	path := "services." + name
	if s == nil {
		c.errorf(errs, path, "empty service: it needs targets")
		return
	}
	if !isName(name) {
		c.errorf(errs, path, "service name %q may use only letters, digits, '-', '_' and '.'", name)
	}
	if len(s.Targets) == 0 {
		c.errorf(errs, path+".targets", "at least one target (host:port) is required")
	}
	for i, t := range s.Targets {
		if err := checkHostPort(t); err != nil {
			c.errorf(errs, path+".targets["+strconv.Itoa(i)+"]", "%v", err)
		} else if h, _, _ := net.SplitHostPort(t); h == "" {
			c.errorf(errs, path+".targets["+strconv.Itoa(i)+"]", "target %q needs a host", t)
		}
	}
	if s.MaxConns < 0 {
		c.errorf(errs, path+".max_conns", "must be above 0")
	}
}

func (c *Config) validateRoute(errs *Errors, path string, r *Route) {
	if r.Name == "" {
		c.errorf(errs, path+".name", "every route needs a name")
	} else if !isName(r.Name) {
		c.errorf(errs, path+".name", "route name %q may use only letters, digits, '-', '_' and '.'", r.Name)
	}
	m := r.Match
	if m.Path != "" && m.PathPrefix != "" {
		c.errorf(errs, path+".match.path", "give path or path_prefix, not both")
	}
	if m.Path != "" && !strings.HasPrefix(m.Path, "/") {
		c.errorf(errs, path+".match.path", "%q must start with /", m.Path)
	}
	if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
		c.errorf(errs, path+".match.path_prefix", "%q must start with /", m.PathPrefix)
	}
	for i, meth := range m.Methods {
		if !isToken(meth) {
			c.errorf(errs, path+".match.methods["+strconv.Itoa(i)+"]", "%q is not a valid method", meth)
		}
	}
	for name := range m.Headers {
		if !isToken(name) {
			c.errorf(errs, path+".match.headers."+name, "%q is not a valid header name", name)
		}
	}
	switch {
	case r.Upstream != "" && (r.Old != "" || r.New != ""):
		c.errorf(errs, path+".upstream", "a route has either upstream (plain) or old/new (migration), not both")
	case r.Upstream == "" && r.Old == "":
		c.errorf(errs, path, "route %q needs upstream, or old (and new) to migrate between", r.Name)
	}
	for _, ref := range []struct{ key, name string }{{"upstream", r.Upstream}, {"old", r.Old}, {"new", r.New}} {
		if ref.name != "" && c.Services[ref.name] == nil {
			c.errorf(errs, path+"."+ref.key, "unknown service %q (known: %s)", ref.name, strings.Join(slices.Sorted(maps.Keys(c.Services)), ", "))
		}
	}
	if r.Old != "" && r.Old == r.New {
		c.errorf(errs, path+".new", "old and new are the same service %q", r.Old)
	}
	for i, src := range r.Tenant {
		c.validateTenantSource(errs, path+".tenant["+strconv.Itoa(i)+"]", src)
	}
	if r.Gray != nil && r.New == "" {
		c.errorf(errs, path+".gray", "gray rules need a migration route with old and new")
	}
	if r.Gray != nil {
		for _, list := range []struct {
			key     string
			tenants []string
		}{{"tenants", r.Gray.Tenants}, {"exclude", r.Gray.Exclude}} {
			for i, t := range list.tenants {
				if t == "" {
					c.errorf(errs, path+".gray."+list.key+"["+strconv.Itoa(i)+"]", "empty tenant")
				}
			}
		}
	}
	if r.Record != nil && r.Record.Sample != nil {
		c.checkShare(errs, path+".record.sample", *r.Record.Sample)
	}
	if r.Shadow != nil {
		c.validateShadow(errs, path+".shadow", r)
	}
	if r.Diff != nil {
		c.validateDiff(errs, path+".diff", r.Diff)
		switch {
		case r.Diff.AutoNoise && r.Shadow == nil:
			c.errorf(errs, path+".diff.auto_noise", "needs shadow: likely noise is guessed from compared pairs")
		case r.Diff.AutoNoise && r.Shadow.Secondary != "":
			c.errorf(errs, path+".diff.auto_noise", "has no effect with shadow.secondary, which measures the noise: remove one of them")
		}
	}
	if r.Rollout != nil {
		c.validateRollout(errs, path+".rollout", r)
	}
}

func (c *Config) validateRollout(errs *Errors, path string, r *Route) {
	ro := r.Rollout
	switch {
	case r.New == "":
		c.errorf(errs, path, "a rollout needs a migration route with old and new")
	case r.Shadow == nil:
		c.errorf(errs, path, "a rollout needs shadow: its gate reads the old/new pairs the shadow compares")
	}
	if len(ro.Steps) == 0 {
		c.errorf(errs, path+".steps", "list at least one step, the last 100")
	}
	for i, p := range ro.Steps {
		key := path + ".steps[" + strconv.Itoa(i) + "]"
		switch {
		case p <= 0:
			c.errorf(errs, key, "a step must be above 0%%")
		case i > 0 && p <= ro.Steps[i-1]:
			c.errorf(errs, key, "steps must increase: %s follows %s", p, ro.Steps[i-1])
		case i == len(ro.Steps)-1 && p != 100:
			c.errorf(errs, key, "the last step must be 100, so a passing rollout ends with new serving everything (not %s)", p)
		}
	}
	if ro.MinSamples < 0 {
		c.errorf(errs, path+".min_samples", "must be above 0")
	}
	if *ro.MaxDiffRate <= 0 {
		c.errorf(errs, path+".max_diff_rate", "must be above 0%%; to allow no difference of some kinds at all, list them in block_kinds")
	}
	if *ro.MaxErrorRate <= 0 {
		c.errorf(errs, path+".max_error_rate", "must be above 0%%")
	}
	if v := *ro.MaxP99Ratio; !(v >= 1) || math.IsInf(v, 0) {
		c.errorf(errs, path+".max_p99_ratio", "must be at least 1 (new p99 / old p99), not %g", v)
	}
	if ro.OnFail != "rollback" && ro.OnFail != "hold" {
		c.errorf(errs, path+".on_fail", "unknown value %q (want rollback or hold)", ro.OnFail)
	}
	for i, k := range ro.BlockKinds {
		if !slices.Contains(DiffKinds, k) {
			c.errorf(errs, path+".block_kinds["+strconv.Itoa(i)+"]", "unknown kind %q (want %s)", k, strings.Join(DiffKinds, ", "))
		}
	}
	if ro.Confidence < 50 || ro.Confidence > 99.9 {
		c.errorf(errs, path+".confidence", "must be between 50%% and 99.9%%, not %s", ro.Confidence)
	}
	if ro.Webhook.URL != "" && !isHTTPURL(ro.Webhook.URL) {
		c.errorf(errs, path+".webhook", "%q is not an http:// or https:// URL", ro.Webhook.URL)
	}
	if ro.Webhook.Format != "" && !slices.Contains(WebhookFormats, ro.Webhook.Format) {
		c.errorf(errs, path+".webhook.format", "unknown format %q (want one of %s)", ro.Webhook.Format, strings.Join(WebhookFormats, ", "))
	}
}

func (c *Config) validateShadow(errs *Errors, path string, r *Route) {
	sh := r.Shadow
	if r.New == "" {
		c.errorf(errs, path, "shadowing needs a migration route with old and new")
	}
	for i, m := range sh.Methods {
		if !isToken(m) {
			c.errorf(errs, path+".methods["+strconv.Itoa(i)+"]", "%q is not a valid method", m)
		}
	}
	if sh.Secondary != "" {
		switch {
		case c.Services[sh.Secondary] == nil:
			c.errorf(errs, path+".secondary", "unknown service %q (known: %s)", sh.Secondary, strings.Join(slices.Sorted(maps.Keys(c.Services)), ", "))
		case sh.Secondary == r.Old || sh.Secondary == r.New:
			c.errorf(errs, path+".secondary", "the secondary must be a second instance of old, not %q itself", sh.Secondary)
		}
	} else if sh.SecondaryPercent != nil && *sh.SecondaryPercent > 0 {
		c.errorf(errs, path+".secondary_percent", "needs shadow.secondary, the service that gets the third copy")
	}
	if sh.Concurrency < 0 {
		c.errorf(errs, path+".concurrency", "must be above 0")
	}
	if sh.Queue < 0 {
		c.errorf(errs, path+".queue", "must be above 0")
	}
	if sh.MaxBody < 0 {
		c.errorf(errs, path+".max_body", "must be above 0")
	}
}

func (c *Config) validateDiff(errs *Errors, path string, d *Diff) {
	for i, p := range d.Ignore {
		if msg := checkDiffPath(p); msg != "" {
			c.errorf(errs, path+".ignore["+strconv.Itoa(i)+"]", "%q %s (want name, a.b or items.#.name)", p, msg)
		}
	}
	for i, u := range d.Unordered {
		if msg := checkDiffPath(u.Path); msg != "" {
			c.errorf(errs, path+".unordered["+strconv.Itoa(i)+"]", "%q %s (want items, a.items or {path: items, key: sku})", u.Path, msg)
		}
		if u.Key != "" && checkRedactPath(u.Key) != "" {
			c.errorf(errs, path+".unordered["+strconv.Itoa(i)+"]", "key %q is not a field name", u.Key)
		}
	}
	if !(d.FloatEpsilon >= 0) {
		c.errorf(errs, path+".float_epsilon", "must be 0 or above")
	}
	for i, h := range d.Headers {
		if !isToken(h) {
			c.errorf(errs, path+".headers["+strconv.Itoa(i)+"]", "%q is not a valid header name", h)
		}
	}
}

func (c *Config) validateTenantSource(errs *Errors, path string, src *TenantSource) {
	if src == nil {
		c.errorf(errs, path, "empty tenant source: give one of header, query, cookie, path_segment, json")
		return
	}
	set := 0
	for _, s := range []string{src.Header, src.Query, src.Cookie, src.JSON} {
		if s != "" {
			set++
		}
	}
	if src.PathSegment != 0 {
		set++
	}
	if set != 1 {
		c.errorf(errs, path, "a tenant source has exactly one of header, query, cookie, path_segment, json (a list item each)")
		return
	}
	switch {
	case src.Header != "" && !isToken(src.Header):
		c.errorf(errs, path+".header", "%q is not a valid header name", src.Header)
	case src.PathSegment < 0:
		c.errorf(errs, path+".path_segment", "segments count from 1 (/api/orgs/42: 3 is \"42\")")
	case src.Cookie != "" && !isToken(src.Cookie):
		c.errorf(errs, path+".cookie", "%q is not a valid cookie name", src.Cookie)
	}
}

func (c *Config) validateStore(errs *Errors) {
	st := &c.Store
	switch st.Driver {
	case DefaultStoreDriver:
	case "redis":
		c.validateRedis(errs)
	default:
		c.errorf(errs, "store.driver", "unknown driver %q (want embedded or redis)", st.Driver)
	}
	if st.MaxBytes < 0 {
		c.errorf(errs, "store.max_bytes", "must be above 0")
	}
	if st.Buffer < 0 {
		c.errorf(errs, "store.buffer", "must be above 0")
	}
	if c.Memory.Async < 0 {
		c.errorf(errs, "memory.async", "must be above 0")
	} else if st.Buffer > c.Memory.Async {
		c.errorf(errs, "store.buffer", "%s is above memory.async (%s), the budget it is part of: lower store.buffer or raise memory.async", st.Buffer, c.Memory.Async)
	}
}

func (c *Config) validateRedis(errs *Errors) {
	r := &c.Store.Redis
	if len(r.Addrs) == 0 {
		c.errorf(errs, "store.redis.addrs", "the redis driver needs at least one address (host:port)")
	}
	for i, a := range r.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			c.errorf(errs, "store.redis.addrs["+strconv.Itoa(i)+"]", "%q is not host:port", a)
		}
	}
	if r.DB < 0 {
		c.errorf(errs, "store.redis.db", "must be 0 or above")
	}
	if r.DB != 0 && len(r.Addrs) > 1 && r.MasterName == "" {
		c.errorf(errs, "store.redis.db", "a cluster has only database 0")
	}
	if r.PasswordEnv != "" && r.Password == "" {
		c.errorf(errs, "store.redis.password_env", "the environment variable %s is not set or empty", r.PasswordEnv)
	}
	if r.CAFile != "" && !r.TLS {
		c.errorf(errs, "store.redis.ca_file", "is set but store.redis.tls is false")
	}
	if c.Store.MaxBytes != 0 {
		c.errorf(errs, "store.max_bytes", "applies to the embedded store; bound Redis with its maxmemory setting")
	}
}

func (c *Config) validateRecord(errs *Errors) {
	c.checkShare(errs, "record.sample", *c.Record.Sample)
	if c.Record.MaxBody < 0 {
		c.errorf(errs, "record.max_body", "must be above 0")
	}
	for i, h := range c.Record.Redact.Headers {
		if !isToken(h) {
			c.errorf(errs, "record.redact.headers["+strconv.Itoa(i)+"]", "%q is not a valid header name", h)
		}
	}
	for i, p := range c.Record.Redact.JSON {
		if msg := checkRedactPath(p); msg != "" {
			c.errorf(errs, "record.redact.json["+strconv.Itoa(i)+"]", "%q %s (want name, a.b or items.#.name)", p, msg)
		}
	}
}

func (c *Config) validateTracing(errs *Errors) {
	o := c.Tracing.OTLP
	if o == nil {
		return
	}
	switch u, err := url.Parse(o.Endpoint); {
	case o.Endpoint == "":
		c.errorf(errs, "tracing.otlp.endpoint", "the collector's OTLP/HTTP URL is required, e.g. http://otel-collector:4318")
	case err != nil || !isHTTPURL(o.Endpoint):
		c.errorf(errs, "tracing.otlp.endpoint", "%q is not an http:// or https:// URL (the collector's OTLP/HTTP address, e.g. http://otel-collector:4318)", o.Endpoint)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		c.errorf(errs, "tracing.otlp.endpoint", "%q may not carry a query, a fragment or credentials", o.Endpoint)
	}
	c.checkShare(errs, "tracing.otlp.sample", *o.Sample)
}

// checkRedactPath returns what is wrong with a JSON redaction path, or "".
// The rules are the recorder's: dot-separated keys (a literal dot written
// \.), "#" for every array element, no gjson wildcards or queries, which
// would otherwise redact nothing without saying so.
func checkRedactPath(p string) string {
	if p == "" {
		return "is empty"
	}
	parts := strings.Split(strings.ReplaceAll(p, `\.`, "\x00"), ".")
	for _, part := range parts {
		switch {
		case part == "":
			return "has an empty key"
		case strings.ContainsAny(part, "*?|@") || strings.HasPrefix(part, "#") && part != "#":
			return "uses wildcards, queries or modifiers, which redaction does not support"
		}
	}
	if len(parts) == 1 && parts[0] == "#" {
		return "names no key"
	}
	return ""
}

// checkDiffPath returns what is wrong with a diff ignore or unordered path,
// or "". The syntax is the redaction paths' with the comparer's escapes: a
// '#' inside a key must be escaped ("\#"), as must a final backslash.
func checkDiffPath(p string) string {
	if msg := checkRedactPath(p); msg != "" {
		return msg
	}
	unescaped := strings.ReplaceAll(p, `\\`, "")
	if strings.HasSuffix(unescaped, `\`) {
		return "ends in a lone backslash"
	}
	for _, part := range strings.Split(strings.ReplaceAll(unescaped, `\.`, ""), ".") {
		if part != "#" && strings.Contains(strings.ReplaceAll(part, `\#`, ""), "#") {
			return `uses "#" inside a key (write "#" alone for every element, or "\#" for a literal #)`
		}
	}
	return ""
}

func (c *Config) checkShare(errs *Errors, path string, v float64) {
	if !(v >= 0 && v <= 1) {
		c.errorf(errs, path, "%v is not a share from 0 to 1 (0.1 records one chain in ten)", v)
	}
}

func (c *Config) validateEnvironments(errs *Errors) {
	e := c.Environments
	if len(e.Overlays) > 0 && e.Header == "" {
		c.errorf(errs, "environments.header", "overlays need the header that carries the environment tag, e.g. X-Env")
	}
	if e.Header != "" && !isToken(e.Header) {
		c.errorf(errs, "environments.header", "%q is not a valid header name", e.Header)
	}
	if len(e.Tenants) > 0 && e.Header == "" {
		c.errorf(errs, "environments.header", "tenants need the header that carries the environment tag, e.g. X-Env")
	}
	tagged := map[string]string{} // tenant → the path that lists it first
	for _, tag := range slices.Sorted(maps.Keys(e.Tenants)) {
		switch {
		case !isToken(tag):
			c.errorf(errs, "environments.tenants."+tag, "%q is not a valid header value for an environment tag", tag)
		case e.Overlays[tag] == nil:
			c.errorf(errs, "environments.tenants."+tag, "no overlay %q to tag tenants with (overlays: %s)", tag, strings.Join(slices.Sorted(maps.Keys(e.Overlays)), ", "))
		}
		for i, t := range e.Tenants[tag] {
			path := "environments.tenants." + tag + "[" + strconv.Itoa(i) + "]"
			if t == "" {
				c.errorf(errs, path, "empty tenant")
				continue
			}
			if first, dup := tagged[t]; dup {
				c.errorf(errs, path, "tenant %q is already tagged at %s (line %d): a tenant has one entry tag", t, first, c.lines[first])
				continue
			}
			tagged[t] = path
		}
	}
	for _, tag := range slices.Sorted(maps.Keys(e.Overlays)) {
		path := "environments.overlays." + tag
		for _, base := range slices.Sorted(maps.Keys(e.Overlays[tag])) {
			repl := e.Overlays[tag][base]
			if c.Services[base] == nil {
				c.errorf(errs, path+"."+base, "unknown service %q to replace (known: %s)", base, strings.Join(slices.Sorted(maps.Keys(c.Services)), ", "))
			}
			if c.Services[repl] == nil {
				c.errorf(errs, path+"."+base, "unknown replacement service %q (known: %s)", repl, strings.Join(slices.Sorted(maps.Keys(c.Services)), ", "))
			}
		}
	}
}

// key is a canonical form of the match, to find routes that shadow others.
func (m Match) key() string {
	methods := slices.Clone(m.Methods)
	slices.Sort(methods)
	var hs []string
	for k, v := range m.Headers {
		hs = append(hs, strings.ToLower(k)+"="+v)
	}
	slices.Sort(hs)
	return strings.ToLower(m.Host) + "\x00" + m.Path + "\x00" + m.PathPrefix + "\x00" +
		strings.Join(methods, ",") + "\x00" + strings.Join(hs, "\x00")
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}

// IsLoopback reports whether a host:port listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isToken reports whether s is an RFC 9110 token (header names, methods).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
