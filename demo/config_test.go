package demo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/internal/schematest"
)

// TestDemoConfigMatchesSchema: the tour's config, with its addresses
// filled in, loads and validates against the published schema.
func TestDemoConfigMatchesSchema(t *testing.T) {
	args := make([]any, strings.Count(demoConfig, "%s"))
	for i := range args {
		args[i] = "127.0.0.1:1"
	}
	text := []byte(fmt.Sprintf(demoConfig, args...))
	if _, err := configs.Parse("demo.yaml", text); err != nil {
		t.Fatalf("the demo config does not load: %v", err)
	}
	s := schematest.Compile(t, configs.Schema, configs.SchemaURL)
	if err := schematest.Validate(t, s, text); err != nil {
		t.Errorf("the demo config does not validate: %v", err)
	}
}
