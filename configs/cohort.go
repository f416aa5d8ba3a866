package configs

import (
	"reflect"
	"strconv"
	"strings"
)

// validateCohorts checks that the routes naming one gray.cohort agree on
// what the cohort shares: its percent, whether it has a rollout, and the
// rollout's rules (the webhook aside: where notifications go decides
// nothing). The first member in file order sets the cohort's rules; each
// member that differs gets an error at its own gray.cohort line that names
// the first member's line.
func (c *Config) validateCohorts(errs *Errors) {
	first := map[string]int{} // cohort → index of its first route
	for i, r := range c.Routes {
		if r == nil || r.Gray == nil || r.Gray.Cohort == "" {
			continue
		}
		path := "routes[" + strconv.Itoa(i) + "].gray.cohort"
		name := r.Gray.Cohort
		if !isCohortName(name) {
			c.errorf(errs, path, "%q is not a cohort name: use letters, digits and . _ -, at most 64", name)
			continue
		}
		j, seen := first[name]
		if !seen {
			first[name] = i
			continue
		}
		f := c.Routes[j]
		at := "routes[" + strconv.Itoa(j) + "] (" + f.Name + ", line " + strconv.Itoa(c.lines["routes["+strconv.Itoa(j)+"].gray.cohort"]) + ")"
		var differ []string
		if r.Gray.Percent != f.Gray.Percent {
			differ = append(differ, "percent "+r.Gray.Percent.String()+" here, "+f.Gray.Percent.String()+" there")
		}
		switch {
		case (r.Rollout == nil) != (f.Rollout == nil):
			differ = append(differ, "a rollout on only some members")
		case r.Rollout != nil && !sameRolloutRules(r.Rollout, f.Rollout):
			differ = append(differ, "different rollout rules")
		}
		if len(differ) > 0 {
			c.errorf(errs, path, "members of cohort %q share one percent and one rollout, but this route and %s differ: %s",
				name, at, strings.Join(differ, "; "))
		}
	}
}

// sameRolloutRules compares two rollouts' deciding rules.
func sameRolloutRules(a, b *Rollout) bool {
	x, y := *a, *b
	x.Webhook, y.Webhook = Webhook{}, Webhook{}
	return reflect.DeepEqual(x, y)
}

// isCohortName accepts names that are safe as a W3C baggage key suffix and
// a Prometheus label value.
func isCohortName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}
