package diff

import (
	"slices"
	"testing"
)

func TestThresholdsIsNoise(t *testing.T) {
	def := Thresholds{}
	tests := []struct {
		name       string
		th         Thresholds
		rate, nr   float64
		noisePairs uint64
		want       bool
	}{
		{"no noise pairs: nothing is noise", def, 0.0001, 0.5, 0, false},
		{"no noise pairs even at full rate", def, 1, 1, 0, false},
		{"timestamp differs in ~100% of both", def, 0.998, 1, 500, true},
		{"timestamp a hair above noise", def, 1, 0.99, 500, true},
		{"real change at 30%, no noise", def, 0.3, 0, 500, false},
		{"just above noise, under relative", def, 0.10, 0.09, 500, true}, // (0.01/0.10)=10% < 20%
		{"clearly above noise", def, 0.10, 0.05, 500, false},             // 50% > 20%, 5pp > 0.03pp
		{"relative met, absolute not", def, 0.0002, 0, 500, true},        // 0.02pp < 0.03pp
		{"relative and absolute met", def, 0.0005, 0, 500, false},
		{"equal rates", def, 0.2, 0.2, 500, true},
		{"below noise", def, 0.1, 0.2, 500, true},
		{"zero rate", def, 0, 0, 500, true},
		{"relative exactly at threshold is noise", def, 0.5, 0.4, 500, true},
		{"custom relative 5%", Thresholds{Relative: 0.05}, 0.10, 0.09, 500, false},
		{"custom absolute 10pp", Thresholds{Absolute: 0.1}, 0.3, 0.25, 500, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.th.IsNoise(tc.rate, tc.nr, tc.noisePairs); got != tc.want {
				t.Errorf("IsNoise(%v, %v, %d) = %v, want %v", tc.rate, tc.nr, tc.noisePairs, got, tc.want)
			}
		})
	}
}

func TestSuggestIgnore(t *testing.T) {
	fields := []FieldReport{
		{Path: "price", Kind: KindValue},
		{Path: "meta.ts", Kind: KindValue, Noise: true},
		{Path: "meta.ts", Kind: KindType, Noise: true}, // same path once
		{Path: "items.#.id", Kind: KindOrder, Noise: true},
		{Path: "", Kind: KindValue, Noise: true},        // root cannot be ignored
		{Path: "", Kind: KindStatus, Noise: true},       // neither can a status
		{Path: "Date", Kind: KindHeader, Noise: true},   // nor a header
		{Path: OtherPath, Kind: KindValue, Noise: true}, // nor the overflow bucket
		{Path: "a|b", Kind: KindMissing, Noise: true},
	}
	got := suggestIgnore(fields)
	want := []string{"meta.ts", "items.#.id", "a|b"}
	if !slices.Equal(got, want) {
		t.Fatalf("suggestIgnore = %q, want %q", got, want)
	}
	if line := IgnoreLine(got); line != `diff: { ignore: ["meta.ts", "items.#.id", "a|b"] }` {
		t.Errorf("IgnoreLine = %s", line)
	}
	if line := IgnoreLine(nil); line != "" {
		t.Errorf("IgnoreLine(nil) = %q", line)
	}
}
