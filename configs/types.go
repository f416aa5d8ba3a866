package configs

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Size is a byte count written as a plain integer or with a unit:
// B, KiB, MiB, GiB (powers of 1024, also written k, m, g as in nginx) or
// KB, MB, GB (powers of 1000). Units are case-insensitive.
type Size int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	// Longest suffixes first so "kib" is not read as "b".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// ParseSize parses a Size.
func ParseSize(s string) (Size, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("invalid size %q (want bytes, or a number with KiB, MiB, GiB, KB, MB or GB)", s)
	}
	v := n * float64(factor)
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(v), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a size such as 64KiB")
	}
	v, err := ParseSize(n.Value)
	*s = v
	return err
}

// String formats the size with the largest binary unit that divides it.
func (s Size) String() string {
	switch {
	case s == 0:
		return "0"
	case s%(1<<30) == 0:
		return strconv.FormatInt(int64(s)>>30, 10) + "GiB"
	case s%(1<<20) == 0:
		return strconv.FormatInt(int64(s)>>20, 10) + "MiB"
	case s%(1<<10) == 0:
		return strconv.FormatInt(int64(s)>>10, 10) + "KiB"
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// Duration is a time.Duration written as Go writes it ("3s", "1m30s",
// "72h"). A bare number other than 0 is an error: the unit is required.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a duration such as 3s")
	}
	if n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("invalid duration %q (want a number with a unit: 300ms, 3s, 10m, 72h)", n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String implements fmt.Stringer.
func (d Duration) String() string { return time.Duration(d).String() }

// Percent is a share from 0 to 100, written "0.5%" or as a bare number of
// percent ("percent: 1" is 1%). It keeps two decimals: 0.01% is the finest
// step, which is what a sticky bucket out of 10000 can express.
type Percent float64

// ParsePercent parses a Percent.
func ParsePercent(s string) (Percent, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return 0, fmt.Errorf("invalid percentage %q (want 0 to 100, e.g. 10 or 0.5%%)", s)
	}
	return Percent(math.Round(v*100) / 100), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a percentage such as 10 or 0.5%")
	}
	v, err := ParsePercent(n.Value)
	*p = v
	return err
}

// Basis returns the percent in hundredths of a percent (0 to 10000).
func (p Percent) Basis() int { return int(math.Round(float64(p) * 100)) }

// String implements fmt.Stringer.
func (p Percent) String() string { return strconv.FormatFloat(float64(p), 'f', -1, 64) + "%" }

// UnmarshalYAML implements yaml.Unmarshaler: "items" or {path: items, key: sku}.
func (u *Unordered) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		u.Path = n.Value
		return nil
	case yaml.MappingNode:
		if err := scalarFields(n, map[string]*string{"path": &u.Path, "key": &u.Key}, "path and optionally key"); err != nil {
			return err
		}
		if u.Path == "" {
			return errors.New("path is required")
		}
		return nil
	}
	return errors.New("want a path such as items, or {path: items, key: sku}")
}

// WebhookFormats are the payloads rollout.webhook.format accepts: json (the
// transition as cutover's API writes it), slack (an incoming-webhook
// message) and teams (a message card).
var WebhookFormats = []string{"json", "slack", "teams"}

// Webhook is where a rollout's transitions are posted. It is written as a
// URL, which posts JSON, or as a mapping with url and format.
type Webhook struct {
	// URL is the http:// or https:// address posted to.
	URL string `yaml:"url"`
	// Format is the payload: json, slack or teams. Default json.
	Format string `yaml:"format"`
}

// UnmarshalYAML implements yaml.Unmarshaler: "https://…" or {url, format}.
func (w *Webhook) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		w.URL, w.Format = n.Value, "json"
		return nil
	case yaml.MappingNode:
		w.Format = "json"
		if err := scalarFields(n, map[string]*string{"url": &w.URL, "format": &w.Format}, "url and optionally format"); err != nil {
			return err
		}
		if w.URL == "" {
			return errors.New("url is required")
		}
		return nil
	}
	return errors.New("want a URL, or {url: URL, format: json|slack|teams}")
}

// scalarFields decodes mapping n, whose values are scalars, into the
// strings fields names by key; want lists the keys for the error on an
// unknown one.
func scalarFields(n *yaml.Node, fields map[string]*string, want string) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: want a string", k.Value)
		}
		f := fields[k.Value]
		if f == nil {
			return fmt.Errorf("unknown key %q (want %s)", k.Value, want)
		}
		*f = v.Value
	}
	return nil
}
