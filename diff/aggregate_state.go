package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// stateVersion is the version of MarshalState's encoding.
const stateVersion = 1

// aggregatorState is the since-start totals of an Aggregator, as JSON.
// Fields and signatures refer to fields by index in Fields; histograms are
// sparse [bucket, count] pairs of the layout in histogram.go.
type aggregatorState struct {
	Version        int              `json:"v"`
	Route          string           `json:"route"`
	Compared       uint64           `json:"compared"`
	Overflow       uint64           `json:"overflow"`
	NoisePairs     uint64           `json:"noise_pairs"`
	NoiseDiffering uint64           `json:"noise_differing"`
	Fields         []stateField     `json:"fields"`
	Signatures     []stateSignature `json:"signatures"`
	Status         []StatusPair     `json:"status"`
	OldLatency     [][2]uint64      `json:"old_latency"`
	NewLatency     [][2]uint64      `json:"new_latency"`
	Tenants        []TenantCount    `json:"tenants"`
}

type stateField struct {
	Path    string        `json:"path"`
	Kind    Kind          `json:"kind"`
	Other   bool          `json:"other,omitempty"`
	Count   uint64        `json:"count"`
	Noise   uint64        `json:"noise"`
	Samples []stateSample `json:"samples,omitempty"`
}

type stateSample struct {
	ID   string    `json:"id"`
	Time time.Time `json:"t"`
}

type stateSignature struct {
	Fields []int  `json:"f"`
	Count  uint64 `json:"n"`
}

// MarshalState encodes the since-start totals — counts, noise counts,
// signatures, reservoirs, status pairs, latency histograms and tenants —
// as versioned JSON, so that a restarted gateway can continue them with
// RestoreState. The sliding window is not included.
func (a *Aggregator) MarshalState() ([]byte, error) {
	a.mu.Lock()
	c := a.c
	t := &c.total
	s := aggregatorState{
		Version:        stateVersion,
		Route:          a.route,
		Compared:       t.compared,
		Overflow:       t.overflow,
		NoisePairs:     t.noisePairs,
		NoiseDiffering: t.noiseDiffering,
		Fields:         make([]stateField, len(c.fields)),
		Signatures:     make([]stateSignature, 0, len(t.sigs.ent)),
		Status:         make([]StatusPair, 0, len(t.status)),
		Tenants:        make([]TenantCount, 0, len(t.tenants.heap)),
	}
	for id := range c.fields {
		f := &c.fields[id]
		sf := stateField{Path: f.path, Kind: f.kind, Other: f.other,
			Count: t.fields.get(uint32(id)), Noise: t.noise.get(uint32(id))}
		for _, r := range f.res {
			sf.Samples = append(sf.Samples, stateSample{r.id, r.t})
		}
		s.Fields[id] = sf
	}
	for _, e := range t.sigs.ent {
		ss := stateSignature{Count: e.n, Fields: make([]int, len(c.sigs[e.id].fields))}
		for i, id := range c.sigs[e.id].fields {
			ss.Fields[i] = int(id)
		}
		s.Signatures = append(s.Signatures, ss)
	}
	for k, n := range t.status {
		s.Status = append(s.Status, StatusPair{Old: int(k.old), New: int(k.new), Count: n})
	}
	t.oldLat.each(func(i int, n uint64) { s.OldLatency = append(s.OldLatency, [2]uint64{uint64(i), n}) })
	t.newLat.each(func(i int, n uint64) { s.NewLatency = append(s.NewLatency, [2]uint64{uint64(i), n}) })
	for _, e := range t.tenants.heap {
		s.Tenants = append(s.Tenants, TenantCount{Tenant: e.name, Compared: e.compared, Differing: e.differing})
	}
	a.mu.Unlock()
	return json.Marshal(&s)
}

// RestoreState replaces the since-start totals with those encoded by
// MarshalState, and empties the sliding window. It rejects an encoding of
// another version or route, or one that is malformed or inconsistent, with
// an error, leaving the aggregator unchanged. Fields beyond the current
// MaxFields are folded into OtherPath, signatures beyond MaxSignatures
// into the overflow count, and reservoirs and tenants are cut to the
// current bounds.
func (a *Aggregator) RestoreState(b []byte) error {
	var s aggregatorState
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("diff: cannot decode aggregator state: %w", err)
	}
	if dec.More() {
		return errors.New("diff: cannot decode aggregator state: trailing data")
	}
	if s.Version != stateVersion {
		return fmt.Errorf("diff: aggregator state has version %d, want %d", s.Version, stateVersion)
	}
	if s.Route != a.route {
		return fmt.Errorf("diff: aggregator state is for route %q, not %q", s.Route, a.route)
	}
	a.mu.Lock()
	opt := a.opt
	a.mu.Unlock()
	c, err := restoreCore(&s, opt)
	if err != nil {
		return fmt.Errorf("diff: invalid aggregator state: %w", err)
	}
	a.mu.Lock()
	a.c = c
	a.mu.Unlock()
	return nil
}

// restoreCore validates s and builds the core it describes.
func restoreCore(s *aggregatorState, opt AggregatorOptions) (*core, error) {
	if s.NoiseDiffering > s.NoisePairs {
		return nil, errors.New("more differing noise pairs than noise pairs")
	}
	if s.Overflow > s.Compared {
		return nil, errors.New("more overflowed pairs than compared")
	}
	c := newCore(opt.MaxFields)
	t := &c.total
	t.compared, t.noisePairs, t.noiseDiffering = s.Compared, s.NoisePairs, s.NoiseDiffering

	ids := make([]uint32, len(s.Fields)) // state index → new field ID
	seen := make(map[fieldKey]bool, len(s.Fields))
	for i, f := range s.Fields {
		if f.Kind == 0 {
			return nil, fmt.Errorf("field %d has no kind", i)
		}
		if f.Other && f.Path != OtherPath {
			return nil, fmt.Errorf("field %d: other field with path %q", i, f.Path)
		}
		k := fieldKey{f.Path, f.Kind}
		if f.Other {
			k.path = "\x00" + OtherPath // apart from a real path of that name
		}
		if seen[k] {
			return nil, fmt.Errorf("field %d: duplicate %q %s", i, f.Path, f.Kind)
		}
		seen[k] = true
		if f.Count > s.Compared || f.Noise > s.NoisePairs {
			return nil, fmt.Errorf("field %q %s counts more pairs than compared", f.Path, f.Kind)
		}
		if f.Count == 0 && len(f.Samples) > 0 {
			return nil, fmt.Errorf("field %q %s has samples but no count", f.Path, f.Kind)
		}
		var id uint32
		if f.Other {
			id = c.otherField(f.Kind)
		} else {
			id = c.intern(f.Path, f.Kind)
		}
		ids[i] = id
		if f.Count > 0 {
			t.fields.add(id, f.Count)
		}
		if f.Noise > 0 {
			t.noise.add(id, f.Noise)
		}
		fi := &c.fields[id]
		for _, smp := range f.Samples {
			if smp.ID == "" {
				return nil, fmt.Errorf("field %q %s has an empty sample ID", f.Path, f.Kind)
			}
			if len(fi.res) < opt.Samples {
				fi.res = append(fi.res, sampleRef{smp.ID, smp.Time})
			}
		}
	}

	var sum uint64
	sum, t.overflow = s.Overflow, s.Overflow
	for i, sg := range s.Signatures {
		if len(sg.Fields) == 0 || sg.Count == 0 {
			return nil, fmt.Errorf("signature %d is empty", i)
		}
		sum += sg.Count
		if sum < sg.Count || sum > s.Compared {
			return nil, errors.New("signatures count more pairs than compared")
		}
		set := c.beginSet()
		for _, f := range sg.Fields {
			if f < 0 || f >= len(s.Fields) {
				return nil, fmt.Errorf("signature %d names field %d of %d", i, f, len(s.Fields))
			}
			set = c.addToSet(set, ids[f])
		}
		if sig := c.signature(set); sig < 0 {
			t.overflow += sg.Count
		} else {
			t.sigs.add(uint32(sig), sg.Count)
		}
	}

	var statusSum uint64
	for _, sp := range s.Status {
		if sp.Old == sp.New || sp.Count == 0 {
			return nil, fmt.Errorf("status pair %d → %d ×%d does not differ", sp.Old, sp.New, sp.Count)
		}
		statusSum += sp.Count
		if statusSum < sp.Count || statusSum > s.Compared {
			return nil, errors.New("status pairs count more pairs than compared")
		}
		t.addStatus(sp.Old, sp.New, sp.Count)
	}

	for _, h := range []struct {
		name string
		in   [][2]uint64
		out  *histogram
	}{{"old latency", s.OldLatency, &t.oldLat}, {"new latency", s.NewLatency, &t.newLat}} {
		for _, e := range h.in {
			if e[0] >= histBuckets || e[1] == 0 {
				return nil, fmt.Errorf("%s: bad bucket %d ×%d", h.name, e[0], e[1])
			}
			h.out.addBucket(int(e[0]), e[1])
			if h.out.n < e[1] {
				return nil, fmt.Errorf("%s: counts overflow", h.name)
			}
		}
		if h.out.n != s.Compared {
			return nil, fmt.Errorf("%s counts %d pairs, not %d", h.name, h.out.n, s.Compared)
		}
	}

	tenants := make(map[string]bool, len(s.Tenants))
	for _, tc := range s.Tenants {
		if tc.Tenant == "" || tenants[tc.Tenant] || tc.Differing > tc.Compared || tc.Compared > s.Compared {
			return nil, fmt.Errorf("bad tenant %q", tc.Tenant)
		}
		tenants[tc.Tenant] = true
		t.tenants.add(tc.Tenant, tc.Compared, tc.Differing, opt.TenantCapacity, false)
	}
	return c, nil
}
