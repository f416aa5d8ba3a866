package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cutover/cutover/internal/defaults"
)

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// Addrs are host:port addresses: one is a standalone server, several
	// are the seeds of a cluster; with MasterName they are sentinels.
	Addrs      []string
	MasterName string // the sentinel master; "" when not using sentinel
	Username   string
	Password   string
	DB         int  // standalone and sentinel only; a cluster has only 0
	TLS        bool // connect with TLS
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates; "" trusts the system's.
	CAFile string
	// Prefix starts every key, so that several deployments can share one
	// Redis; DefaultRedisPrefix when empty.
	Prefix string
	// Retention is how long records and samples live (a key expiry);
	// zero keeps them until Redis evicts them.
	Retention time.Duration
	// Timeout bounds each command; DefaultRedisTimeout when zero. A
	// gateway must not hang on an unreachable store.
	Timeout time.Duration
}

// Defaults of RedisOptions.
const (
	DefaultRedisPrefix  = "cutover:"
	DefaultRedisTimeout = time.Second
)

// Redis is the shared store: records, samples, diff statistics and rollout
// state of every gateway replica that names the same Redis and prefix. It
// is safe for concurrent use. A command that cannot reach Redis fails
// within Timeout; the callers buffer and retry.
type Redis struct {
	c      redis.UniversalClient
	opt    RedisOptions
	prefix string

	// formatOK is set once the store's format is known to be this
	// release's (format.go).
	formatOK atomic.Bool
}

// OpenRedis connects to the Redis that opt names and checks that it
// answers. The client is go-redis's universal client: one address is a
// standalone server, several a cluster, and MasterName selects sentinel.
func OpenRedis(opt RedisOptions) (*Redis, error) {
	r, err := NewRedis(opt)
	if err != nil {
		return nil, err
	}
	if err := r.Ping(); err != nil {
		_ = r.c.Close()
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.checkFormat(ctx); err != nil {
		_ = r.c.Close()
		if errors.Is(err, ErrNewerFormat) {
			return nil, err // already says "store:"
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	return r, nil
}

// NewRedis is OpenRedis without the check: connections are made when
// needed, so a gateway can start while Redis is away and run degraded
// until it answers.
func NewRedis(opt RedisOptions) (*Redis, error) {
	if len(opt.Addrs) == 0 {
		return nil, errors.New("store: no Redis address")
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultRedisPrefix
	}
	opt.Timeout = defaults.Positive(opt.Timeout, DefaultRedisTimeout)
	uo := &redis.UniversalOptions{
		Addrs:        opt.Addrs,
		MasterName:   opt.MasterName,
		Username:     opt.Username,
		Password:     opt.Password,
		DB:           opt.DB,
		DialTimeout:  opt.Timeout,
		ReadTimeout:  opt.Timeout,
		WriteTimeout: opt.Timeout,
		// One try: the callers keep what failed and write it again on
		// their next round, so a retry here would only hold them up.
		MaxRetries: -1,
		// A dead Redis must not queue every caller behind a full pool.
		PoolTimeout: opt.Timeout,
	}
	if opt.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if opt.CAFile != "" {
			pem, err := os.ReadFile(opt.CAFile)
			if err != nil {
				return nil, fmt.Errorf("store: cannot read the Redis CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("store: no certificate in the Redis CA file %q", opt.CAFile)
			}
			tc.RootCAs = pool
		}
		uo.TLSConfig = tc
	}
	quietOnce.Do(func() { redis.SetLogger(quietLogger{}) })
	return &Redis{c: redis.NewUniversalClient(uo), opt: opt, prefix: opt.Prefix}, nil
}

// quietLogger silences go-redis's own log of failed dials: while Redis is
// away they come at every try, and the store's callers log the failure
// once, throttled.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

// Ping reports whether Redis answers within Timeout.
func (r *Redis) Ping() error {
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: Redis at %v does not answer: %w", r.opt.Addrs, err)
	}
	return nil
}

// Close closes the connections.
func (r *Redis) Close() error { return r.c.Close() }

// ctx bounds one store call, which may pipeline several commands.
func (r *Redis) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*r.opt.Timeout)
}

// key joins the prefix and parts. A part in braces is a cluster hash tag:
// keys that must be written together share one.
func (r *Redis) key(parts ...string) string {
	n := len(r.prefix)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, r.prefix...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return string(b)
}
