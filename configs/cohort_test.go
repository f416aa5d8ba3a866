package configs

import (
	"strings"
	"testing"
)

const cohortBase = `
services:
  a1: { targets: ["127.0.0.1:9001"] }
  a2: { targets: ["127.0.0.1:9002"] }
  b1: { targets: ["127.0.0.1:9003"] }
  b2: { targets: ["127.0.0.1:9004"] }
  b2x: { targets: ["127.0.0.1:9005"] }
environments:
  header: X-Env
  overlays: { feature-x: { b2: b2x } }
routes:
  - name: a
    match: { path_prefix: /a }
    old: a1
    new: a2
    shadow: {}
    gray: { cohort: checkout, percent: 30 }
%A
  - name: b
    match: { path_prefix: /b }
    old: b1
    new: b2
    shadow: {}
    gray: { cohort: checkout, percent: %P }
%B
`

func cohortConfig(percent, rolloutA, rolloutB string) string {
	return strings.NewReplacer("%A", rolloutA, "%B", rolloutB, "%P", percent).Replace(cohortBase)
}

func TestCohortMembersAgree(t *testing.T) {
	if _, err := Parse("t.yaml", []byte(cohortConfig("30", "", ""))); err != nil {
		t.Fatalf("agreeing members: %v", err)
	}
	ro := "    rollout: { min_samples: 100 }"
	if _, err := Parse("t.yaml", []byte(cohortConfig("30", ro, ro+"\n"))); err != nil {
		t.Fatalf("agreeing rollouts: %v", err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"percent", cohortConfig("40", "", ""), `t.yaml:24: routes[1].gray.cohort: members of cohort "checkout" share one percent and one rollout, but this route and routes[0] (a, line 17) differ: percent 40% here, 30% there`},
		{"rollout on some", cohortConfig("30", ro, ""), `t.yaml:24: routes[1].gray.cohort: members of cohort "checkout" share one percent and one rollout, but this route and routes[0] (a, line 17) differ: a rollout on only some members`},
		{"rollout rules", cohortConfig("30", ro, "    rollout: { min_samples: 200 }\n"), `routes[1].gray.cohort: members of cohort "checkout" share one percent and one rollout, but this route and routes[0] (a, line 17) differ: different rollout rules`},
		{"bad name", strings.Replace(cohortConfig("30", "", ""), "cohort: checkout, percent: 30", "cohort: \"check out\", percent: 30", 1), `t.yaml:17: routes[0].gray.cohort: "check out" is not a cohort name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestEntryTenantsTaggedOnce(t *testing.T) {
	ok := strings.Replace(cohortConfig("30", "", ""), "  overlays: { feature-x: { b2: b2x } }", "  overlays: { feature-x: { b2: b2x }, feature-y: { b2: b2x } }\n  tenants:\n    feature-x: [\"1001\", \"7\"]\n    feature-y: [\"8\"]", 1)
	c, err := Parse("t.yaml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Environments.Tenants["feature-x"]; len(got) != 2 {
		t.Fatalf("tenants %v", c.Environments.Tenants)
	}
	twice := strings.Replace(ok, `feature-y: ["8"]`, `feature-y: ["8", "1001"]`, 1)
	_, err = Parse("t.yaml", []byte(twice))
	want := `t.yaml:13: environments.tenants.feature-y[1]: tenant "1001" is already tagged at environments.tenants.feature-x[0] (line 12)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, want)
	}
	noOverlay := strings.Replace(ok, `feature-y: ["8"]`, `feature-z: ["8"]`, 1)
	if _, err := Parse("t.yaml", []byte(noOverlay)); err == nil || !strings.Contains(err.Error(), `no overlay "feature-z"`) {
		t.Fatalf("error: %v", err)
	}
}
