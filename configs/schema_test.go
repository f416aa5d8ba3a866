package configs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cutover/cutover/internal/schematest"
)

var update = flag.Bool("update", false, "rewrite "+SchemaFile+" from the config structs")

// TestSchemaUpToDate fails while the committed schema differs from what
// the structs and their doc comments generate; -update rewrites it.
func TestSchemaUpToDate(t *testing.T) {
	got, err := GenerateSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(SchemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, got) {
		t.Fatalf("%s is out of date: run go generate ./configs", SchemaFile)
	}
	if !bytes.Equal(Schema, committed) {
		t.Fatalf("the embedded schema differs from %s: rebuild", SchemaFile)
	}
}

// exampleConfigs returns every shipped config by name: the examples and
// the Kubernetes ConfigMap's cutover.yaml.
func exampleConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = data
	}
	cm, err := os.ReadFile("../deploy/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(cm, &m); err != nil || m.Data["cutover.yaml"] == "" {
		t.Fatalf("configmap.yaml has no data.cutover.yaml (%v)", err)
	}
	out["configmap.yaml:cutover.yaml"] = []byte(m.Data["cutover.yaml"])
	return out
}

func TestSchemaAcceptsExamples(t *testing.T) {
	// The ConfigMap's config reads its secrets from the environment.
	t.Setenv("CUTOVER_ADMIN_TOKEN", "example-token")
	t.Setenv("REDIS_PASSWORD", "example-password")
	s := schematest.Compile(t, Schema, SchemaURL)
	for name, data := range exampleConfigs(t) {
		if _, err := Parse(name, data); err != nil {
			t.Errorf("%s does not load: %v", name, err)
		}
		if err := schematest.Validate(t, s, data); err != nil {
			t.Errorf("%s does not validate: %v", name, err)
		}
		if strings.HasPrefix(name, "examples/") && !bytes.HasPrefix(data, []byte("# yaml-language-server: $schema=../"+SchemaFile+"\n")) {
			t.Errorf("%s does not start with the yaml-language-server line for ../%s", name, SchemaFile)
		}
	}
}

// TestSchemaAgreesWithLoader: values the loader accepts validate, and
// values it rejects do not.
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := schematest.Compile(t, Schema, SchemaURL)
	base := migrationBase + "    shadow: {}\n"
	tests := []struct {
		name, yaml string
		valid      bool
	}{
		{"sizes and durations", "max_body: 64KiB\nshutdown_timeout: 1m30s\nstore: {max_bytes: 1048576, buffer: 1 gb, retention: 0}\nmemory: {async: 2 gb}\n", true},
		{"percent forms", "", true},
		{"webhook as a URL", "    rollout: {webhook: https://hooks.example.com/x, max_diff_rate: 0.5%, max_error_rate: 2}\n", true},
		{"webhook with a format", "    rollout: {webhook: {url: https://hooks.slack.com/services/x, format: slack}}\n", true},
		{"numeric tenants", "    gray: {tenants: [1001, acme], percent: 5}\n", true},
		{"external url", "admin: {external_url: https://cutover.example.com}\n", true},
		{"misspelt key", "lisen: \":8080\"\n", false},
		{"misspelt nested key", "admin: {token_evn: X}\n", false},
		{"misspelt key in a route", "    shadw: {}\n", false},
		{"unknown webhook format", "    rollout: {webhook: {url: https://x.example.com, format: discord}}\n", false},
		{"webhook key misspelt", "    rollout: {webhook: {uri: https://x.example.com}}\n", false},
		{"bad size", "max_body: 12 parsecs\n", false},
		{"duration without a unit", "shutdown_timeout: 3\n", false},
		{"percent above 100", "    gray: {percent: 101}\n", false},
		{"unknown driver", "store: {driver: mysql}\n", false},
		{"unknown inject format", "chain: {inject: [zipkin]}\n", false},
		{"two tenant sources in one", "    tenant: [{header: X-Org, query: org}]\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := base + tt.yaml
			if !strings.HasPrefix(tt.yaml, " ") {
				text = tt.yaml + base
			}
			_, loadErr := Parse("t.yaml", []byte(text))
			schemaErr := schematest.Validate(t, s, []byte(text))
			if (loadErr == nil) != tt.valid {
				t.Errorf("loader: error %v, want valid=%v", loadErr, tt.valid)
			}
			if (schemaErr == nil) != tt.valid {
				t.Errorf("schema: error %v, want valid=%v", schemaErr, tt.valid)
			}
		})
	}
}

func TestWebhookForms(t *testing.T) {
	base := migrationBase + "    shadow: {}\n    rollout:\n      webhook: "
	tests := []struct {
		value string
		want  Webhook
		err   string
	}{
		{"https://hooks.example.com/a", Webhook{URL: "https://hooks.example.com/a", Format: "json"}, ""},
		{"{url: https://hooks.example.com/a}", Webhook{URL: "https://hooks.example.com/a", Format: "json"}, ""},
		{"{url: https://hooks.example.com/a, format: teams}", Webhook{URL: "https://hooks.example.com/a", Format: "teams"}, ""},
		{"{format: slack}", Webhook{}, "url is required"},
		{"{url: https://hooks.example.com/a, format: discord}", Webhook{}, `routes[0].rollout.webhook.format: unknown format "discord" (want one of json, slack, teams)`},
		{"{url: https://hooks.example.com/a, fromat: slack}", Webhook{}, `unknown key "fromat"`},
		{"ftp://hooks.example.com/a", Webhook{}, `is not an http:// or https:// URL`},
	}
	for _, tt := range tests {
		c, err := Parse("t.yaml", []byte(base+tt.value+"\n"))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("webhook: %s: error %v, want one containing %q", tt.value, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("webhook: %s: %v", tt.value, err)
			continue
		}
		if got := c.Routes[0].Rollout.Webhook; got != tt.want {
			t.Errorf("webhook: %s = %+v, want %+v", tt.value, got, tt.want)
		}
	}
	if _, err := Parse("t.yaml", []byte("admin: {external_url: cutover.example.com}\n"+validBase)); err == nil ||
		!strings.Contains(err.Error(), `admin.external_url: "cutover.example.com" is not an http:// or https:// URL`) {
		t.Errorf("a relative external_url: error %v", err)
	}
}
