package diff

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// legacyState is the JSON in which embedded stores kept an aggregator's
// since-start totals before statistics became tallies (state version 1).
// Fields and signatures refer to fields by index in Fields; histograms
// are sparse [bucket, count] pairs.
type legacyState struct {
	Version        int           `json:"v"`
	Route          string        `json:"route"`
	Compared       uint64        `json:"compared"`
	Overflow       uint64        `json:"overflow"`
	NoisePairs     uint64        `json:"noise_pairs"`
	NoiseDiffering uint64        `json:"noise_differing"`
	Fields         []legacyField `json:"fields"`
	Signatures     []struct {
		Fields []int  `json:"f"`
		Count  uint64 `json:"n"`
	} `json:"signatures"`
	Status     []StatusPair  `json:"status"`
	OldLatency [][2]uint64   `json:"old_latency"`
	NewLatency [][2]uint64   `json:"new_latency"`
	Tenants    []TenantCount `json:"tenants"`
}

type legacyField struct {
	Path    string `json:"path"`
	Kind    Kind   `json:"kind"`
	Other   bool   `json:"other"`
	Count   uint64 `json:"count"`
	Noise   uint64 `json:"noise"`
	Samples []struct {
		ID   string    `json:"id"`
		Time time.Time `json:"t"`
	} `json:"samples"`
}

// LegacyDelta reads the JSON statistics that an embedded store kept for
// route before they became tallies, as the Delta that adds them to a
// fresh tally: its since-start totals and sample refs (the old JSON kept
// no window). It rejects an encoding of another version or route, or
// counts that NewAggregatorFrom would not accept.
func LegacyDelta(route string, state []byte) (Delta, error) {
	var s legacyState
	if err := json.Unmarshal(state, &s); err != nil {
		return Delta{}, fmt.Errorf("diff: cannot decode the statistics of %q: %w", route, err)
	}
	if s.Version != 1 || s.Route != route {
		return Delta{}, fmt.Errorf("diff: the statistics of %q are of version %d and route %q", route, s.Version, s.Route)
	}
	total := Counts{}
	put := func(name string, n uint64) {
		if n != 0 {
			total[name] += int64(n)
		}
	}
	put("c", s.Compared)
	put("o", s.Overflow)
	put("n", s.NoisePairs)
	put("N", s.NoiseDiffering)
	d := Delta{Total: total}
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = FieldName(f.Path, f.Kind)
		if f.Other {
			names[i] = otherFieldName(f.Kind)
		}
		put("f"+names[i], f.Count)
		put("F"+names[i], f.Noise)
		for _, smp := range f.Samples {
			if smp.ID == "" {
				continue
			}
			if d.Samples == nil {
				d.Samples = map[string][]SampleRef{}
			}
			d.Samples[names[i]] = append(d.Samples[names[i]], SampleRef{ID: smp.ID, Time: smp.Time})
		}
	}
	for name, refs := range d.Samples {
		slices.SortStableFunc(refs, func(x, y SampleRef) int { return x.Time.Compare(y.Time) })
		d.Samples[name] = refs
	}
	for _, sg := range s.Signatures {
		ids := make([]uint32, 0, len(sg.Fields))
		for _, f := range sg.Fields {
			if f < 0 || f >= len(names) {
				return Delta{}, fmt.Errorf("diff: the statistics of %q name field %d of %d", route, f, len(names))
			}
			if !slices.Contains(ids, uint32(f)) {
				ids = append(ids, uint32(f))
			}
		}
		if len(ids) == 0 {
			return Delta{}, errors.New("diff: the statistics of " + route + " hold an empty signature")
		}
		put(signatureName(names, ids), sg.Count)
	}
	for _, sp := range s.Status {
		put(statusName(statusKey{int32(sp.Old), int32(sp.New)}), sp.Count)
	}
	hn := histNames()
	for i, h := range [2][][2]uint64{s.OldLatency, s.NewLatency} {
		for _, e := range h {
			if e[0] >= histBuckets {
				return Delta{}, fmt.Errorf("diff: the statistics of %q hold latency bucket %d", route, e[0])
			}
			put(hn[i][e[0]], e[1])
		}
	}
	for _, t := range s.Tenants {
		if t.Tenant != "" {
			put("t"+t.Tenant, t.Compared)
			put("T"+t.Tenant, t.Differing)
		}
	}
	if _, err := NewAggregatorFrom(route, AggregatorOptions{}, d.Total, nil, d.Samples); err != nil {
		return Delta{}, fmt.Errorf("diff: the statistics of %q: %w", route, err)
	}
	return d, nil
}
