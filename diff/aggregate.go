package diff

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/defaults"
)

// Aggregation defaults and bounds.
const (
	DefaultSamples    = 10
	DefaultTopTenants = 10
	DefaultMaxFields  = 1000
	// MaxSignatures bounds the distinct difference signatures (sets of
	// (path, kind)) an Aggregator tells apart; a differing pair whose
	// signature is new once the table is full counts in an overflow
	// counter that always counts as differing.
	MaxSignatures = 4096
	// OtherPath is the path under which the (path, kind)s beyond
	// MaxFields are counted, one entry per kind.
	OtherPath = "(other)"
)

// ErrWindow is returned by Report for a window it cannot cover.
var ErrWindow = errors.New("diff: report window must be between 0 and " + MaxWindow.String())

// Pair is one compared old/new pair, oriented old → new.
type Pair struct {
	Time                   time.Time // zero: time.Now()
	Tenant                 string    // "" when the request had none
	Served                 string    // "old" or "new": the side that answered the client
	OldStatus, NewStatus   int
	OldLatency, NewLatency time.Duration
	Diffs                  []Difference // from the comparer; empty when equal. Not retained: copy what you keep.
	// Values, when set, holds the values of Diffs index for index
	// (Comparer.Values): they feed the examples and the likely-noise
	// guess. Not retained.
	Values   []Values
	SampleID string // the ID under which the caller can store this pair; "" keeps no sample
}

// AggregatorOptions configure an Aggregator. Zero fields take the defaults.
type AggregatorOptions struct {
	Noise      Thresholds // zero fields take the defaults
	Samples    int        // sample IDs kept per (path, kind); default DefaultSamples = 10
	TopTenants int        // tenants listed in a report; default DefaultTopTenants = 10
	MaxFields  int        // distinct (path, kind) tracked; default DefaultMaxFields = 1000; beyond it, counted under path OtherPath with its kind
	Seed       uint64     // reservoir randomness (math/rand/v2 PCG); 0 → time-based
	// TenantCapacity bounds the since-start tenant table; default
	// DefaultTenantCapacity = 1000. Each 10-second window bucket keeps at
	// most 100 tenants.
	TenantCapacity int
}

func (o AggregatorOptions) withDefaults() AggregatorOptions {
	o.Noise = o.Noise.withDefaults()
	o.Samples = defaults.Positive(o.Samples, DefaultSamples)
	o.TopTenants = defaults.Positive(o.TopTenants, DefaultTopTenants)
	o.MaxFields = defaults.Positive(o.MaxFields, DefaultMaxFields)
	o.TenantCapacity = defaults.Positive(o.TenantCapacity, DefaultTenantCapacity)
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	return o
}

// Aggregator accumulates one route's comparisons: old/new pairs (Add) and
// old/secondary pairs (AddNoise), since start and in a sliding window of
// MaxWindow (see WindowBucket), and summarises them in a RouteReport with
// the noise cancelled (see Thresholds.IsNoise). It is safe for concurrent
// use; one mutex guards it. Add and AddNoise neither sort nor allocate
// once the fields, signatures and tenants they meet have been seen (and
// the window bucket has been used before); every table is bounded.
//
// One classification for every count: pairs are counted per signature,
// the set of (path, kind) they differed in, for the route and for each
// tenant, and a report counts as differing the signatures that hold at
// least one non-noise field under that report's classification. So the
// route's differing count, each tenant's and the fields' noise flags
// agree, and the listed tenants' differing counts plus TenantsRest add up
// to the route's. A tenant table counts at most 16 (tenant, signature)s per
// tenant it can hold, on average; a tenant's pairs beyond, like the
// route's pairs beyond MaxSignatures, count as differing whatever the
// noise, and then the sums may disagree (TenantsRest is never negative).
//
// Status first: a pair whose statuses differ counts once, as the status
// difference StatusPath(old, new) — the (path, kind)s of its bodies and
// headers are not counted, whatever Diffs holds.
type Aggregator struct {
	mu    sync.Mutex
	route string
	opt   AggregatorOptions
	rng   *rand.Rand
	c     *core
}

// core is an aggregator's tables and counts.
type core struct {
	maxFields int
	fields    []fieldInfo
	fieldIx   map[fieldKey]uint32
	other     map[Kind]uint32 // kind → ID of (OtherPath, kind)
	regular   int             // fields that are not OtherPath ones

	// Per-call deduplication of field IDs: stamp[id] == epoch marks the
	// IDs already in scratch.
	stamp   []uint32
	epoch   uint32
	scratch []uint32
	status  [1]Difference // statusOnly's result when the pair's diffs hold none
	// statusPaths caches the status paths statusOnly made (at most
	// maxStatusPairs, then emptied).
	statusPaths map[statusKey]string
	first       []int // first[i]: the index in the pair's diffs of scratch[i]

	sigs    []sigInfo
	sigHead map[uint64]int32 // signature hash → 1 + index of the first signature with it

	total stats
	ring  [ringSize]*bucket

	names countNames // Take's names of the fields and signatures (counts.go)
}

type fieldKey struct {
	path string
	kind Kind
}

type fieldInfo struct {
	path  string
	kind  Kind
	other bool
	res   []sampleRef // Algorithm R reservoir over the since-start pairs
	ex    []Example   // the most recent distinct examples, oldest first
}

type sampleRef struct {
	id string
	t  time.Time
}

type sigInfo struct {
	fields []uint32 // distinct field IDs
	next   int32    // 1 + index of the next signature with the same hash
}

func newCore(maxFields int) *core {
	return &core{
		maxFields: maxFields,
		fieldIx:   map[fieldKey]uint32{},
		other:     map[Kind]uint32{},
		sigHead:   map[uint64]int32{},
	}
}

// NewAggregator returns an empty aggregator for route.
func NewAggregator(route string, opt AggregatorOptions) *Aggregator {
	opt = opt.withDefaults()
	return &Aggregator{
		route: route,
		opt:   opt,
		rng:   rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)),
		c:     newCore(opt.MaxFields),
	}
}

// Route returns the route's name.
func (a *Aggregator) Route() string { return a.route }

// Compared returns the old/new pairs added since start.
func (a *Aggregator) Compared() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.c.total.compared
}

// SetThresholds swaps the noise thresholds (config reload). Zero fields
// take the defaults. Counts are kept: the next report classifies them
// under the new thresholds.
func (a *Aggregator) SetThresholds(t Thresholds) {
	a.mu.Lock()
	a.opt.Noise = t.withDefaults()
	a.mu.Unlock()
}

// lockAt locks a for counting a pair compared at t (time.Now() when zero)
// and returns a's counts, the window bucket t falls in (nil when t is too
// old for the ring) and t. The caller unlocks a.mu.
func (a *Aggregator) lockAt(t time.Time) (*core, *bucket, time.Time) {
	if t.IsZero() {
		t = time.Now()
	}
	a.mu.Lock()
	return a.c, a.c.bucketFor(t), t
}

// Add counts an old/new pair and reports whether its SampleID entered at
// least one (path, kind) reservoir, i.e. whether the caller should store
// the sample. Each (path, kind) keeps Samples IDs by Algorithm R over the
// since-start pairs, so a kept ID may later be replaced; the first Samples
// pairs of every (path, kind) are always kept.
func (a *Aggregator) Add(p *Pair) (keepSample bool) {
	c, b, t := a.lockAt(p.Time)
	defer a.mu.Unlock()
	diffs, vals := p.Diffs, p.Values
	if len(vals) != len(diffs) {
		vals = nil
	}
	if p.OldStatus != p.NewStatus {
		diffs, vals = c.statusOnly(diffs, p.OldStatus, p.NewStatus), nil
	}
	ids := c.distinct(diffs)

	c.total.compared++
	c.total.oldLat.add(p.OldLatency)
	c.total.newLat.add(p.NewLatency)
	if p.OldStatus != p.NewStatus {
		c.total.addStatus(p.OldStatus, p.NewStatus, 1)
	}
	if b != nil {
		b.compared++
		b.oldLat.add(p.OldLatency)
		b.newLat.add(p.NewLatency)
		if p.OldStatus != p.NewStatus {
			b.addStatus(p.OldStatus, p.NewStatus, 1)
		}
	}

	sig := int32(-1)
	if len(ids) > 0 {
		if sig = c.signature(ids); sig < 0 {
			c.total.overflow++
			if b != nil {
				b.overflow++
			}
		} else {
			c.total.sigs.add(uint32(sig), 1)
			if b != nil {
				b.sigs.add(uint32(sig), 1)
			}
		}
		sid := ""
		for i, id := range ids {
			n := c.total.fields.add(id, 1)
			if b != nil {
				b.fields.add(id, 1)
			}
			f := &c.fields[id]
			var v Values
			if vals != nil {
				v = vals[c.first[i]]
				if g := generatedClass(v.Old, v.New, t); g >= 0 && f.kind == KindValue {
					c.total.gen[g].add(id, 1)
					if b != nil {
						b.gen[g].add(id, 1)
					}
				}
			}
			if p.SampleID != "" && a.sample(f, n, &sid, p.SampleID, t) {
				keepSample = true
				if vals != nil && hasExamples(f.kind) && !f.other {
					f.record(newExample(v, sid, t))
				}
			}
		}
	}
	if p.Tenant != "" {
		var d uint64
		if len(ids) > 0 {
			d = 1
		}
		name, e := c.total.tenants.add(p.Tenant, 1, d, a.opt.TenantCapacity, true)
		if e != nil && d > 0 {
			c.total.tenants.addSig(e, sig, 1, a.opt.TenantCapacity)
		}
		if b != nil {
			if _, e := b.tenants.add(name, 1, d, bucketTenantCapacity, false); e != nil && d > 0 {
				b.tenants.addSig(e, sig, 1, bucketTenantCapacity)
			}
		}
	}
	return keepSample
}

// statusOnly returns the status difference of a pair whose statuses
// differ: the one in diffs (as Compare reports it), else a new one.
func (c *core) statusOnly(diffs []Difference, old, new int) []Difference {
	for i := range diffs {
		if diffs[i].Kind == KindStatus {
			if o, n, ok := ParseStatusPath(diffs[i].Path); ok && o == old && n == new {
				return diffs[i : i+1]
			}
		}
	}
	k := statusKey{int32(old), int32(new)}
	path, ok := c.statusPaths[k]
	if !ok {
		if c.statusPaths == nil || len(c.statusPaths) >= maxStatusPairs {
			c.statusPaths = map[statusKey]string{}
		}
		path = StatusPath(old, new)
		c.statusPaths[k] = path
	}
	c.status[0] = Difference{Path: path, Kind: KindStatus}
	return c.status[:]
}

// sample offers the pair to f's reservoir; n is the number of pairs that
// differed at f since start, this one included. sid caches the cloned
// sample ID across the fields of one pair.
func (a *Aggregator) sample(f *fieldInfo, n uint64, sid *string, id string, t time.Time) bool {
	k := a.opt.Samples
	j := -1
	if len(f.res) < k {
		if f.res == nil {
			f.res = make([]sampleRef, 0, k)
		}
	} else if r := a.rng.Uint64N(max(n, uint64(k))); r < uint64(k) {
		j = int(r)
	} else {
		return false
	}
	if *sid == "" {
		*sid = strings.Clone(id)
	}
	if j < 0 {
		f.res = append(f.res, sampleRef{*sid, t})
	} else {
		f.res[j] = sampleRef{*sid, t}
	}
	return true
}

// AddNoise counts one old-vs-secondary (old vs old) comparison and its
// differences. A zero t means time.Now().
func (a *Aggregator) AddNoise(t time.Time, diffs []Difference) {
	c, b, _ := a.lockAt(t)
	defer a.mu.Unlock()
	ids := c.distinct(diffs)
	c.total.noisePairs++
	if b != nil {
		b.noisePairs++
	}
	if len(ids) == 0 {
		return
	}
	c.total.noiseDiffering++
	if b != nil {
		b.noiseDiffering++
	}
	for _, id := range ids {
		c.total.noise.add(id, 1)
		if b != nil {
			b.noise.add(id, 1)
		}
	}
}

// distinct interns the (path, kind)s of diffs and returns their distinct
// IDs in c.scratch, valid until the next call; c.stamp marks them with
// c.epoch, and c.first[i] is the index in diffs of the first difference
// of ID i.
func (c *core) distinct(diffs []Difference) []uint32 {
	ids := c.beginSet()
	c.first = c.first[:0]
	for i := range diffs {
		n := len(ids)
		if ids = c.addToSet(ids, c.intern(diffs[i].Path, diffs[i].Kind)); len(ids) > n {
			c.first = append(c.first, i)
		}
	}
	return ids
}

// otherField returns the ID of (OtherPath, kind).
func (c *core) otherField(kind Kind) uint32 {
	if id, ok := c.other[kind]; ok {
		return id
	}
	id := c.newField(OtherPath, kind, true)
	c.other[kind] = id
	return id
}

// beginSet starts a new set of distinct field IDs in c.scratch.
func (c *core) beginSet() []uint32 {
	c.epoch++
	if c.epoch == 0 {
		clear(c.stamp)
		c.epoch = 1
	}
	c.scratch = c.scratch[:0]
	return c.scratch
}

// addToSet adds id to the set begun by beginSet, once.
func (c *core) addToSet(ids []uint32, id uint32) []uint32 {
	if c.stamp[id] != c.epoch {
		c.stamp[id] = c.epoch
		ids = append(ids, id)
		c.scratch = ids
	}
	return ids
}

// intern returns the ID of (path, kind), adding it while fewer than
// maxFields are known and counting it under (OtherPath, kind) after.
func (c *core) intern(path string, kind Kind) uint32 {
	if id, ok := c.fieldIx[fieldKey{path, kind}]; ok {
		return id
	}
	if c.regular < c.maxFields {
		path = strings.Clone(path)
		id := c.newField(path, kind, false)
		c.fieldIx[fieldKey{path, kind}] = id
		c.regular++
		return id
	}
	return c.otherField(kind)
}

func (c *core) newField(path string, kind Kind, other bool) uint32 {
	c.fields = append(c.fields, fieldInfo{path: path, kind: kind, other: other})
	c.stamp = append(c.stamp, 0)
	return uint32(len(c.fields) - 1)
}

// signature returns the ID of the set of field IDs ids (distinct, all
// stamped with c.epoch), adding it when new and the table has room, or −1.
// The set is looked up by an order-independent hash, the sum of a mix of
// each ID, and confirmed by checking every member's stamp: no sorting.
func (c *core) signature(ids []uint32) int32 {
	var h uint64
	for _, id := range ids {
		h += mix64(uint64(id))
	}
	for s := c.sigHead[h]; s != 0; s = c.sigs[s-1].next {
		if c.isCurrent(c.sigs[s-1].fields) {
			return s - 1
		}
	}
	if len(c.sigs) >= MaxSignatures {
		return -1
	}
	c.sigs = append(c.sigs, sigInfo{fields: slices.Clone(ids), next: c.sigHead[h]})
	c.sigHead[h] = int32(len(c.sigs))
	return int32(len(c.sigs) - 1)
}

// isCurrent reports whether the distinct IDs f are exactly those in
// c.scratch.
func (c *core) isCurrent(f []uint32) bool {
	if len(f) != len(c.scratch) {
		return false
	}
	for _, id := range f {
		if c.stamp[id] != c.epoch {
			return false
		}
	}
	return true
}

// mix64 is SplitMix64's finalizer.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Report summarises the pairs added since start (since == 0) or within the
// last since before now, rounded to whole WindowBuckets (see MaxWindow).
// since < 0 or > MaxWindow is an error. Percent, State and Step are left
// for the caller to fill.
func (a *Aggregator) Report(now time.Time, since time.Duration) (RouteReport, error) {
	if since < 0 || since > MaxWindow {
		return RouteReport{}, fmt.Errorf("%w, not %v", ErrWindow, since)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.c
	v := newView(len(c.fields), len(c.sigs))
	inWindow := func(time.Time) bool { return true }
	if since == 0 {
		v.merge(&c.total)
	} else {
		lo, hi := windowEpochs(now, since)
		for _, b := range c.ring {
			if b != nil && b.used && b.epoch >= lo && b.epoch <= hi {
				v.merge(&b.stats)
			}
		}
		inWindow = func(t time.Time) bool {
			e := epochOf(t)
			return e >= lo && e <= hi
		}
	}
	return a.build(v, inWindow), nil
}

// build derives the report from a merged view; inWindow filters samples
// and examples. Every count it reports comes from one classification of
// the fields (noise[id]), applied to the signatures of the route and of
// each tenant alike.
func (a *Aggregator) build(v *view, inWindow func(time.Time) bool) RouteReport {
	c := a.c
	th := a.opt.Noise
	r := RouteReport{
		Route:      a.route,
		Compared:   v.compared,
		NoisePairs: v.noisePairs,
		NoiseRate:  ratio(v.noiseDiffering, v.noisePairs),
		Fields:     []FieldReport{},
		Status:     []StatusPair{},
		Tenants:    []TenantCount{},
	}
	noise := make([]bool, len(c.fields))
	statusField := map[statusKey]int{} // status pair → index in r.Fields
	for id := range c.fields {
		n := v.fields[id]
		if n == 0 {
			continue
		}
		f := &c.fields[id]
		fr := FieldReport{
			Path:      f.path,
			Kind:      f.kind,
			Count:     n,
			Rate:      ratio(n, v.compared),
			NoiseRate: ratio(v.noise[id], v.noisePairs),
			Samples:   []string{},
		}
		if th.IsNoise(fr.Rate, fr.NoiseRate, v.noisePairs) {
			fr.Noise = true
			fr.Why = th.evidence(fr.Rate, fr.NoiseRate, v.noisePairs)
		} else if v.noisePairs == 0 && f.kind == KindValue && !f.other {
			var gen [numGenClasses]uint64
			for k := range gen {
				gen[k] = v.gen[k][id]
			}
			if ok, why := likelyNoise(n, v.compared, &gen); ok {
				fr.LikelyNoise, fr.LikelyReason = true, why
				fr.SuggestIgnore = IgnoreLine([]string{f.path})
				if th.AutoNoise {
					fr.Noise = true
					fr.Why = &NoiseEvidence{Rate: fr.Rate, Reason: "likely noise, and diff.auto_noise treats likely noise as noise: " + why}
				}
			}
		}
		noise[id] = fr.Noise
		res := make([]sampleRef, 0, len(f.res))
		for _, s := range f.res {
			if inWindow(s.t) {
				res = append(res, s)
			}
		}
		slices.SortFunc(res, func(x, y sampleRef) int {
			if d := y.t.Compare(x.t); d != 0 {
				return d
			}
			return strings.Compare(x.id, y.id)
		})
		for _, s := range res {
			fr.Samples = append(fr.Samples, s.id)
		}
		for i := len(f.ex) - 1; i >= 0; i-- { // newest first
			if inWindow(f.ex[i].time) {
				fr.Examples = append(fr.Examples, f.ex[i])
			}
		}
		r.Fields = append(r.Fields, fr)
	}
	sortFields(r.Fields)
	for i, f := range r.Fields {
		if f.Kind != KindStatus {
			continue
		}
		if o, n, ok := ParseStatusPath(f.Path); ok {
			statusField[statusKey{clampStatus(o), clampStatus(n)}] = i
		}
	}

	differs := make([]bool, len(c.sigs)) // signature → counts as differing
	for sid := range c.sigs {
		for _, id := range c.sigs[sid].fields {
			if !noise[id] {
				differs[sid] = true
				break
			}
		}
	}
	r.Differing = v.overflow
	for sid, n := range v.sigs {
		if differs[sid] {
			r.Differing += n
		}
	}
	r.DiffRate = ratio(r.Differing, r.Compared)

	for k, n := range v.status {
		sp := StatusPair{Old: int(k.old), New: int(k.new), Count: n}
		if i, ok := statusField[k]; ok {
			sp.Noise = r.Fields[i].Noise
			if len(r.Fields[i].Samples) > 0 {
				sp.Samples = r.Fields[i].Samples
			}
		}
		r.Status = append(r.Status, sp)
	}
	slices.SortFunc(r.Status, func(x, y StatusPair) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Old, y.Old); c != 0 {
			return c
		}
		return cmp.Compare(x.New, y.New)
	})

	r.Latency = Latency{
		OldP50: v.oldLat.quantileMs(0.5), OldP99: v.oldLat.quantileMs(0.99),
		NewP50: v.newLat.quantileMs(0.5), NewP99: v.newLat.quantileMs(0.99),
	}

	for name, t := range v.tenants {
		tc := TenantCount{Tenant: name, Compared: t.compared, Differing: t.overflow}
		for sid, n := range t.sigs {
			if differs[sid] {
				tc.Differing += n
			}
		}
		r.Tenants = append(r.Tenants, tc)
	}
	known := len(r.Tenants)
	r.Tenants = topTenants(r.Tenants, a.opt.TopTenants)
	rest := TenantRest{Tenants: known - len(r.Tenants), Compared: r.Compared, Differing: r.Differing}
	for _, t := range r.Tenants {
		rest.Compared -= min(rest.Compared, t.Compared)
		rest.Differing -= min(rest.Differing, t.Differing)
	}
	if rest.Compared > 0 || rest.Tenants > 0 {
		r.TenantsRest = &rest
	}
	r.Suggest = suggestIgnore(r.Fields)
	return r
}

// sortFields orders fields non-noise first, then by count desc, path and
// kind.
func sortFields(fs []FieldReport) {
	slices.SortFunc(fs, func(x, y FieldReport) int {
		if x.Noise != y.Noise {
			if !x.Noise {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		if c := strings.Compare(x.Path, y.Path); c != 0 {
			return c
		}
		return cmp.Compare(x.Kind, y.Kind)
	})
}

func ratio(n, d uint64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
