package configs

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]Size{
		"0": 0, "512": 512, "64KiB": 64 << 10, "64kib": 64 << 10, "32MiB": 32 << 20, "1GiB": 1 << 30,
		"10KB": 10000, "2MB": 2000000, "1k": 1024, "8m": 8 << 20, "1.5KiB": 1536, "100B": 100, " 4 KiB ": 4096,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-1", "12 parsecs", "KiB", "1e400", "NaN"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestSizeString(t *testing.T) {
	for s, want := range map[Size]string{0: "0", 1 << 20: "1MiB", 64 << 10: "64KiB", 1000: "1000B", 3 << 30: "3GiB"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(s), got, want)
		}
	}
}

func TestParsePercent(t *testing.T) {
	good := map[string]Percent{"1": 1, "0.5%": 0.5, "100%": 100, "0": 0, "12.345": 12.35, "0.01%": 0.01}
	for in, want := range good {
		got, err := ParsePercent(in)
		if err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "101", "abc", "NaN", "5%%"} {
		if _, err := ParsePercent(in); err == nil {
			t.Errorf("ParsePercent(%q) accepted", in)
		}
	}
	if b := Percent(0.5).Basis(); b != 50 {
		t.Errorf("0.5%% is %d basis points, want 50", b)
	}
}
