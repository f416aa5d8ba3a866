package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/internal/redistest"
)

// The shipped observability files, relative to this package.
const (
	dashboardFile  = "../deploy/grafana/cutover.json"
	alertsFile     = "../deploy/prometheus/alerts.yaml"
	alertsTestFile = "../deploy/prometheus/alerts_test.yaml"
)

// metricName finds the metric names in a PromQL expression: identifiers
// starting with cutover_. Labels, functions and Grafana variables never
// start so.
var metricName = regexp.MustCompile(`\bcutover_[a-zA-Z0-9_:]*`)

// dashboardExprs returns every PromQL expression of the dashboard by where
// it is: the panels' targets, the variables' queries and the annotations.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Type string `json:"type"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name, Type, Definition string
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Name, Expr string
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	out := map[string]string{}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Definition != "" {
			out["variable "+v.Name] = v.Definition
		}
	}
	if vars["datasource"] != "datasource" || vars["route"] != "query" {
		t.Errorf("%s: want a datasource variable and a route variable, have %v", dashboardFile, vars)
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: panel %q does not use the datasource variable", dashboardFile, p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", dashboardFile, p.Title)
		}
		for i, tg := range p.Targets {
			out[fmt.Sprintf("panel %q query %d", p.Title, i)] = tg.Expr
		}
	}
	for _, a := range d.Annotations.List {
		out["annotation "+a.Name] = a.Expr
	}
	return out
}

// alertExprs returns every rule's expression by alert name.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	for _, want := range []string{"CutoverRolloutRolledBack", "CutoverRolloutHoldingTooLong", "CutoverShadowDropsHigh",
		"CutoverUpstreamErrors", "CutoverStoreWriteFailures", "CutoverReplicaDegraded", "CutoverRolloutNoLeader"} {
		if out["alert "+want] == "" {
			t.Errorf("%s has no alert %s", alertsFile, want)
		}
	}
	return out
}

// families returns the metric names a /metrics text exposes, from its
// TYPE lines, a histogram's with its _bucket, _sum and _count series.
func families(text string) map[string]bool {
	out := map[string]bool{}
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		out[f[2]] = true
		if f[3] == "histogram" || f[3] == "summary" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[f[2]+s] = true
			}
		}
	}
	return out
}

// TestObservabilityMetricsExist runs two replicas on Redis with a shadowed
// rollout whose new side differs now and then and whose old side has a
// secondary, drives traffic until comparisons, noise pairs, records and
// a rollout notification exist, and checks that every metric the Grafana
// dashboard and the alerting rules name is one the gateway exports. The
// rollout's Slack notification, with its link to the route's page, is
// read back from a loopback receiver.
func TestObservabilityMetricsExist(t *testing.T) {
	redis := redistest.Start(t)
	oldAddr, oldAgain, newAddr := priceService(t, "old", 0), priceService(t, "old-2", 0), priceService(t, "new", 7)

	var mu sync.Mutex
	var slack [][]byte
	hook := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		slack = append(slack, body)
		mu.Unlock()
	})

	config := fmt.Sprintf(`  external_url: "http://cutover.example.com/admin"
store:
  driver: redis
  redis: { addrs: ["%s"], prefix: "obs:" }
debug_headers: true
services:
  items-v1: { targets: ["%s"] }
  items-v1-again: { targets: ["%s"] }
  items-v2: { targets: ["%s"] }
routes:
  - name: items
    match: { path_prefix: /items }
    old: items-v1
    new: items-v2
    shadow: { percent: 100, secondary: items-v1-again, secondary_percent: 100 }
    rollout:
      steps: [50, 100]
      min_samples: 100000
      webhook: { url: "%s/hook", format: slack }
`, redis.Addr, oldAddr, oldAgain, newAddr, "http://"+hostPort(hook))
	gs := startReplicas(t, 2, config)
	c := newClient(t)
	for n := range 60 {
		driveItems(t, c, gs[n%2], n, n+1)
	}
	driveItems(t, c, gs[0], 1000, 1001)
	resp, _ := do(t, c, "GET", gs[0].url("/nowhere"), nil, nil) // no route: a rejected request
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nowhere answered %d, want 404", resp.StatusCode)
	}

	var text string
	waitFor(t, "comparisons, noise pairs and records on replica 0", func() bool {
		m := gs[0].metrics(t, nil)
		if m[`cutover_shadow_compared_total{route="items"}`] == 0 || m[`cutover_shadow_noise_pairs_total{route="items"}`] == 0 ||
			m[`cutover_shadow_differing_total{route="items"}`] == 0 || m["cutover_records_written_total"] == 0 {
			return false
		}
		_, body := do(t, c, "GET", gs[0].adminURL("/metrics"), nil, nil)
		text = string(body)
		return true
	})
	exported := families(text)
	for _, want := range []string{"cutover_rollout_leader", "cutover_store_up", "cutover_upstream_duration_seconds_bucket"} {
		if !exported[want] {
			t.Errorf("/metrics lacks %s, which this setup exports", want)
		}
	}

	named := map[string]string{}
	for where, expr := range dashboardExprs(t) {
		named[where] = expr
	}
	for where, expr := range alertExprs(t) {
		named[where] = expr
	}
	used := 0
	for where, expr := range named {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s names no cutover metric: %s", where, expr)
		}
		for _, name := range names {
			used++
			if !exported[name] {
				t.Errorf("%s uses %s, which the gateway does not export", where, name)
			}
		}
	}
	t.Logf("%d expressions, %d metric uses, %d metric families exported", len(named), used, len(exported))

	waitFor(t, "the rollout's Slack notification", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(slack) > 0
	})
	mu.Lock()
	first := slack[0]
	mu.Unlock()
	var msg struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(first, &msg); err != nil {
		t.Fatalf("the notification is not a Slack message: %v: %s", err, first)
	}
	if !strings.Contains(msg.Text, "Rollout of items") || !strings.Contains(msg.Text, "<http://cutover.example.com/admin/ui/routes/items|Open items>") {
		t.Errorf("Slack message %q lacks the route or the link to its page", msg.Text)
	}
}

// TestObservabilityPromQL checks the alerting rules with promtool, and
// the dashboard's queries too, written as recording rules with Grafana's
// variables filled in; then it runs the rules' unit tests. promtool comes with Debian's prometheus package
// (make test installs it).
func TestObservabilityPromQL(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed; `make test` installs it (Debian's prometheus package)")
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$route", ".*", "$old", "items-v1", "$new", "items-v2")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	exprs := dashboardExprs(t)
	keys := make([]string, 0, len(exprs))
	for k := range exprs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		e := exprs[k]
		if strings.HasPrefix(e, "label_values(") {
			continue // a Grafana function, not PromQL
		}
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: vars.Replace(e)})
	}
	doc, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	dashRules := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(dashRules, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", alertsFile, dashRules).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("SUCCESS")) {
		t.Errorf("promtool check rules said:\n%s", out)
	}
	t.Logf("promtool check rules:\n%s", out)

	// The rules' own unit tests: which alert fires, when, with which
	// labels and text, for series of two replicas.
	out, err = exec.Command(promtool, "test", "rules", alertsTestFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("promtool test rules:\n%s", out)
}

// TestObservabilitySchemaCommand: cutover schema prints the committed
// schema, and --line the comment that points an editor at it.
func TestObservabilitySchemaCommand(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, "schema")
	if code != 0 || stdout != string(configs.Schema) {
		t.Errorf("cutover schema: exit %d, %d bytes, want the %d of configs/%s\n%s", code, len(stdout), len(configs.Schema), configs.SchemaFile, stderr)
	}
	code, stdout, _ = runCLI(t, "schema", "--line")
	if code != 0 || stdout != configs.SchemaLine+"\n" {
		t.Errorf("cutover schema --line: exit %d: %q", code, stdout)
	}
}
