package diff

// Noise cancellation follows Diffy's model (github.com/opentable/diffy,
// originally Twitter's): besides the old/new pairs, a small share of
// requests is also sent to a second instance of the old service, and the
// old/secondary pairs measure how often each (path, kind) differs between
// two copies of the same code — timestamps, request IDs, random ordering.
// A difference that shows up between old and new no more often than it
// shows up between old and old says nothing about the rewrite.
//
// For each (path, kind):
//
//	rate       = pairs old/new differing there  / old/new pairs compared
//	noise_rate = pairs old/old differing there  / old/secondary pairs compared
//
// With no old/secondary pair compared yet, nothing is noise. Otherwise the
// (path, kind) is noise unless all three hold:
//
//	rate > noise_rate
//	(rate − noise_rate) / rate > Relative   (default 20%)
//	rate − noise_rate > Absolute            (default 0.03 percentage points)
//
// so a path must differ clearly more often, in proportion and in absolute
// terms, between old and new than between old and old to count as a real
// difference.

import (
	"fmt"
	"strconv"
)

// Default noise thresholds.
const (
	DefaultRelative = 0.2
	DefaultAbsolute = 0.0003
)

// Thresholds decide when a path's old-vs-new difference rate is only noise
// (Diffy's model, see IsNoise). Zero fields take the defaults.
type Thresholds struct {
	Relative float64 // default DefaultRelative = 0.2
	Absolute float64 // default DefaultAbsolute = 0.0003 (0.03 percentage points)
	// AutoNoise (diff.auto_noise) treats the fields flagged LikelyNoise as
	// noise: they then count toward neither the diff rate nor the gate.
	AutoNoise bool
}

// NoiseEvidence says why a field was classed as noise: its old-vs-new
// rate, its old-vs-secondary rate over NoisePairs pairs, the thresholds
// it was held to, and the rule that decided, in words.
type NoiseEvidence struct {
	Rate       float64 `json:"rate"`
	NoiseRate  float64 `json:"noise_rate"`
	NoisePairs uint64  `json:"noise_pairs"`
	Relative   float64 `json:"relative,omitempty"`
	Absolute   float64 `json:"absolute,omitempty"`
	Reason     string  `json:"reason"`
}

// evidence explains why IsNoise(rate, noiseRate, noisePairs) holds.
func (t Thresholds) evidence(rate, noiseRate float64, noisePairs uint64) *NoiseEvidence {
	t = t.withDefaults()
	e := &NoiseEvidence{Rate: rate, NoiseRate: noiseRate, NoisePairs: noisePairs, Relative: t.Relative, Absolute: t.Absolute}
	on := fmt.Sprintf("old and new differ here in %s of pairs, old and secondary in %s of %d pairs",
		FormatRate(rate), FormatRate(noiseRate), noisePairs)
	d := rate - noiseRate
	switch {
	case !(rate > noiseRate):
		e.Reason = on + ": no more often between old and new than between two copies of old"
	case !(d/rate > t.Relative):
		e.Reason = fmt.Sprintf("%s: the excess is %s of the old/new rate, not above the %s relative threshold",
			on, FormatRate(d/rate), FormatRate(t.Relative))
	default:
		e.Reason = fmt.Sprintf("%s: the excess is %s, not above the %s absolute threshold",
			on, FormatRate(d), FormatRate(t.Absolute))
	}
	return e
}

// withDefaults returns t with zero (or negative, or NaN) fields replaced by
// the defaults.
func (t Thresholds) withDefaults() Thresholds {
	if !(t.Relative > 0) {
		t.Relative = DefaultRelative
	}
	if !(t.Absolute > 0) {
		t.Absolute = DefaultAbsolute
	}
	return t
}

// IsNoise reports whether a (path, kind) that differs in a share rate of
// the old/new pairs and in a share noiseRate of the noisePairs old/secondary
// pairs is only noise. With noisePairs == 0 nothing is noise; otherwise the
// difference is noise unless rate > noiseRate, (rate − noiseRate)/rate >
// Relative and rate − noiseRate > Absolute. Zero thresholds take the
// defaults.
func (t Thresholds) IsNoise(rate, noiseRate float64, noisePairs uint64) bool {
	if noisePairs == 0 {
		return false
	}
	t = t.withDefaults()
	if !(rate > noiseRate) {
		return true
	}
	d := rate - noiseRate
	return !(d/rate > t.Relative && d > t.Absolute)
}

// jsonKind reports whether k is a difference inside a JSON body, the kinds
// that a diff.ignore path can silence.
func jsonKind(k Kind) bool {
	switch k {
	case KindValue, KindType, KindMissing, KindExtra, KindOrder, KindLength:
		return true
	}
	return false
}

// suggestIgnore lists, in the order of fields, the distinct paths of the
// noise fields that diff.ignore can silence: JSON kinds with a non-empty
// path, "(other)" excluded. Status, header and body differences and the
// root value are left out: an ignore entry cannot name them.
func suggestIgnore(fields []FieldReport) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fields {
		if !(f.Noise || f.LikelyNoise) || f.Path == "" || f.Path == OtherPath || !jsonKind(f.Kind) || seen[f.Path] {
			continue
		}
		seen[f.Path] = true
		out = append(out, f.Path)
	}
	return out
}

// IgnoreLine renders paths as the configuration line that silences them,
// `diff: { ignore: ["a.b", "c.#.d"] }`, or "" when paths is empty.
func IgnoreLine(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	b := []byte(`diff: { ignore: [`)
	for i, p := range paths {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, p)
	}
	b = append(b, "] }"...)
	return string(b)
}
