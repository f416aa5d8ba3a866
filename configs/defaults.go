package configs

import (
	"os"
	"slices"
	"strings"
	"time"
)

// Defaults applied by Load when a key is absent or zero.
const (
	DefaultListen          = ":8080"
	DefaultAdminListen     = "127.0.0.1:9901"
	DefaultAdminTokenEnv   = "CUTOVER_ADMIN_TOKEN"
	DefaultMaxBody         = 32 << 20
	DefaultStreamAbove     = 1 << 20
	DefaultShutdownTimeout = 10 * time.Second
	DefaultChainHeader     = "X-Chain-Id"
	DefaultServiceTimeout  = 15 * time.Second
	DefaultFailTimeout     = 10 * time.Second
	DefaultMaxConns        = 1024
	DefaultStoreDriver     = "embedded"
	DefaultStorePath       = "./data/cutover.db"
	DefaultRetention       = 72 * time.Hour
	// DefaultStoreMaxBytes caps the embedded store: at 1,000 calls a
	// second of 1 KiB, about half an hour of records.
	DefaultStoreMaxBytes = 2 << 30
	// DefaultStoreBuffer is half of DefaultMemoryAsync, so that records
	// held through a store outage leave room for live copies.
	DefaultStoreBuffer = 32 << 20
	// DefaultMemoryAsync is memory.async, the budget of copies held after
	// clients are answered.
	DefaultMemoryAsync    = 64 << 20
	DefaultRedisPrefix    = "cutover:"
	DefaultRecordSample   = 1.0
	DefaultRecordMaxBody  = 64 << 10
	DefaultTracingSample  = 1.0
	DefaultTracingService = "cutover"
	// DefaultTenantJSONMax caps the request body a json tenant source reads;
	// a larger body skips that source, so a huge upload costs no parse.
	DefaultTenantJSONMax = 64 << 10

	DefaultShadowPercent          = 100
	DefaultShadowSecondaryPercent = 5
	DefaultShadowTimeout          = 2 * time.Second
	DefaultShadowMaxBody          = 1 << 20
	DefaultShadowConcurrency      = 64
	DefaultShadowQueue            = 1024
	DefaultNoiseRelative          = 20   // percent
	DefaultNoiseAbsolute          = 0.03 // percentage points

	DefaultRolloutMinSamples   = 500
	DefaultRolloutMinDuration  = 10 * time.Minute
	DefaultRolloutMaxDiffRate  = 0.5 // percent
	DefaultRolloutMaxErrorRate = 1   // percent
	DefaultRolloutMaxP99Ratio  = 1.5
	DefaultRolloutOnFail       = "rollback"
	DefaultRolloutConfidence   = 95 // percent
)

// DefaultRolloutSteps are the percents of a rollout without steps.
var DefaultRolloutSteps = []Percent{1, 2, 10, 20, 40, 80, 100}

// DefaultShadowMethods are the methods shadowed when shadow.methods is
// absent: reads only, so a copy cannot write twice.
var DefaultShadowMethods = []string{"GET", "HEAD"}

// DefaultRedactHeaders are the header names whose values are never stored
// when record.redact.headers is absent.
var DefaultRedactHeaders = []string{"Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization"}

// DefaultClientHeaderTimeout bounds how long a client may take to send a
// request's header, so idle and slowloris connections are shed in seconds.
const DefaultClientHeaderTimeout = 10 * time.Second

// DefaultInject is the list of trace formats written upstream when
// chain.inject is absent.
var DefaultInject = []string{"w3c"}

// applyDefaults fills every zero value that has a default. It is the one
// place defaults are applied.
func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.StreamAbove == 0 {
		c.StreamAbove = DefaultStreamAbove
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(DefaultShutdownTimeout)
	}
	if c.ClientHeaderTimeout == 0 {
		c.ClientHeaderTimeout = Duration(DefaultClientHeaderTimeout)
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = DefaultAdminListen
	}
	if c.Admin.TokenEnv == "" {
		c.Admin.TokenEnv = DefaultAdminTokenEnv
	}
	c.Admin.Token = os.Getenv(c.Admin.TokenEnv)
	if c.Admin.ReadTokenEnv != "" {
		c.Admin.ReadToken = os.Getenv(c.Admin.ReadTokenEnv)
	}
	if c.Chain.Header == "" {
		c.Chain.Header = DefaultChainHeader
	}
	if c.Chain.Inject == nil {
		c.Chain.Inject = slices.Clone(DefaultInject)
	}
	if c.Store.Driver == "" {
		c.Store.Driver = DefaultStoreDriver
	}
	if c.Store.Path == "" {
		c.Store.Path = DefaultStorePath
	}
	if c.Store.MaxBytes == 0 && c.Store.Driver == DefaultStoreDriver {
		c.Store.MaxBytes = DefaultStoreMaxBytes
	}
	if c.Memory.Async == 0 {
		c.Memory.Async = DefaultMemoryAsync
	}
	if c.Store.Buffer == 0 {
		c.Store.Buffer = DefaultStoreBuffer
	}
	if c.Store.Redis.Prefix == "" {
		c.Store.Redis.Prefix = DefaultRedisPrefix
	}
	if c.Store.Redis.PasswordEnv != "" {
		c.Store.Redis.Password = os.Getenv(c.Store.Redis.PasswordEnv)
	}
	if c.Store.Retention == 0 {
		c.Store.Retention = Duration(DefaultRetention)
	}
	if c.Record.Sample == nil {
		sample := DefaultRecordSample
		c.Record.Sample = &sample
	}
	if c.Record.Errors == nil {
		errors := true
		c.Record.Errors = &errors
	}
	if c.Record.MaxBody == 0 {
		c.Record.MaxBody = DefaultRecordMaxBody
	}
	if c.Record.Redact.Headers == nil {
		c.Record.Redact.Headers = slices.Clone(DefaultRedactHeaders)
	}
	if o := c.Tracing.OTLP; o != nil {
		if o.Sample == nil {
			sample := DefaultTracingSample
			o.Sample = &sample
		}
		if o.ServiceName == "" {
			o.ServiceName = DefaultTracingService
		}
	}
	for _, s := range c.Services {
		if s == nil {
			continue
		}
		if s.Timeout == 0 {
			s.Timeout = Duration(DefaultServiceTimeout)
		}
		if s.FailTimeout == 0 {
			s.FailTimeout = Duration(DefaultFailTimeout)
		}
		if s.MaxConns == 0 {
			s.MaxConns = DefaultMaxConns
		}
	}
	for _, r := range c.Routes {
		if r == nil {
			continue
		}
		for i, m := range r.Match.Methods {
			r.Match.Methods[i] = strings.ToUpper(m)
		}
		if sh := r.Shadow; sh != nil {
			sh.applyDefaults()
		}
		if ro := r.Rollout; ro != nil {
			ro.applyDefaults()
			if r.Gray == nil && r.New != "" {
				// The rollout splits by the gray decision's percent.
				r.Gray = &Gray{}
			}
		}
		if r.Diff == nil {
			r.Diff = &Diff{}
		}
		if r.Diff.Noise.Relative == 0 {
			r.Diff.Noise.Relative = DefaultNoiseRelative
		}
		if r.Diff.Noise.Absolute == 0 {
			r.Diff.Noise.Absolute = DefaultNoiseAbsolute
		}
	}
}

// applyDefaults fills a rollout block's zero values.
func (ro *Rollout) applyDefaults() {
	if ro.Steps == nil {
		ro.Steps = slices.Clone(DefaultRolloutSteps)
	}
	if ro.MinSamples == 0 {
		ro.MinSamples = DefaultRolloutMinSamples
	}
	if ro.MinDuration == 0 {
		ro.MinDuration = Duration(DefaultRolloutMinDuration)
	}
	if ro.MaxDiffRate == nil {
		p := Percent(DefaultRolloutMaxDiffRate)
		ro.MaxDiffRate = &p
	}
	if ro.MaxErrorRate == nil {
		p := Percent(DefaultRolloutMaxErrorRate)
		ro.MaxErrorRate = &p
	}
	if ro.MaxP99Ratio == nil {
		v := DefaultRolloutMaxP99Ratio
		ro.MaxP99Ratio = &v
	}
	if ro.OnFail == "" {
		ro.OnFail = DefaultRolloutOnFail
	}
	if ro.Confidence == 0 {
		ro.Confidence = DefaultRolloutConfidence
	}
}

// applyDefaults fills a shadow block's zero values and upper-cases its methods.
func (sh *Shadow) applyDefaults() {
	if sh.Percent == nil {
		p := Percent(DefaultShadowPercent)
		sh.Percent = &p
	}
	if sh.Methods == nil {
		sh.Methods = slices.Clone(DefaultShadowMethods)
	}
	for i, m := range sh.Methods {
		sh.Methods[i] = strings.ToUpper(m)
	}
	if sh.Secondary != "" && sh.SecondaryPercent == nil {
		p := Percent(DefaultShadowSecondaryPercent)
		sh.SecondaryPercent = &p
	}
	if sh.Timeout == 0 {
		sh.Timeout = Duration(DefaultShadowTimeout)
	}
	if sh.MaxBody == 0 {
		sh.MaxBody = DefaultShadowMaxBody
	}
	if sh.Concurrency == 0 {
		sh.Concurrency = DefaultShadowConcurrency
	}
	if sh.Queue == 0 {
		sh.Queue = DefaultShadowQueue
	}
}
