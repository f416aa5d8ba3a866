package configs

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/invopop/jsonschema"
)

// Regenerate cutover.schema.json after changing the config structs:
//
//	go generate ./configs
//
//go:generate go test -run ^TestSchemaUpToDate$ -update .

// SchemaFile is the JSON Schema of the configuration, in this package's
// directory. It is generated from the structs and their doc comments by
// GenerateSchema; TestSchemaUpToDate fails while it is out of date.
const SchemaFile = "cutover.schema.json"

// SchemaURL is where editors fetch the published schema.
const SchemaURL = "https://raw.githubusercontent.com/cutover/cutover/main/configs/" + SchemaFile

// SchemaLine is the comment that points YAML editors (the yaml-language-server
// behind VS Code, Neovim, Helix and others) at the schema.
const SchemaLine = "# yaml-language-server: $schema=" + SchemaURL

// Schema is the committed cutover.schema.json.
//
//go:embed cutover.schema.json
var Schema []byte

// The textual forms of the custom scalar types, as their parsers accept
// them. JSON Schema patterns are ECMA-262 regular expressions, without
// flags, so case-insensitive units are spelt out.
const (
	numberPattern   = `([0-9]+(\.[0-9]*)?|\.[0-9]+)`
	sizePattern     = `^\s*` + numberPattern + `\s*([bB]|[kKmMgG]([iI]?[bB])?)?\s*$`
	durationPattern = `^(0|(` + numberPattern + `(ns|us|µs|μs|ms|s|m|h))+)$`
	percentPattern  = `^\s*` + numberPattern + `\s*%?\s*$`
)

// GenerateSchema returns the JSON Schema (draft 2020-12) of Config, with
// descriptions from the doc comments of the Go files in the working
// directory, which must be this package's source directory (as under go
// test and go generate). Every object rejects unknown keys.
func GenerateSchema() ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		ExpandedStruct:             true,
		RequiredFromJSONSchemaTags: true, // every key is optional
		Mapper:                     scalarSchema,
	}
	if err := r.AddGoComments(reflect.TypeFor[Config]().PkgPath(), "."); err != nil {
		return nil, fmt.Errorf("read doc comments: %w", err)
	}
	s := r.Reflect(&Config{})
	s.ID = jsonschema.ID(SchemaURL)
	s.Title = "cutover configuration"
	if err := refine(s); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return buf.Bytes(), nil
}

// scalarSchema is the schema of a type that YAML writes as a scalar and
// that parses itself (Size, Duration, Percent), or that takes a short
// scalar form besides its mapping (Unordered, Webhook); nil for others.
func scalarSchema(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[Size]():
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "integer", Minimum: "0"},
			{Type: "string", Pattern: sizePattern},
		}, Examples: []any{"64KiB", "1MiB", "1GB", 1048576}}
	case reflect.TypeFor[Duration]():
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Const: 0},
			{Type: "string", Pattern: durationPattern},
		}, Examples: []any{"300ms", "3s", "10m", "72h"}}
	case reflect.TypeFor[Percent]():
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "number", Minimum: "0", Maximum: "100"},
			{Type: "string", Pattern: percentPattern},
		}, Examples: []any{10, "0.5%"}}
	case reflect.TypeFor[Unordered]():
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "string", Description: "a path compared as a multiset"},
			object(
				property{"path", &jsonschema.Schema{Type: "string", Description: "the array's path, in the ignore syntax"}},
				property{"key", &jsonschema.Schema{Type: "string", Description: "the field that matches elements"}},
			),
		}}
	case reflect.TypeFor[Webhook]():
		url := &jsonschema.Schema{Type: "string", Pattern: `^https?://[^/]`, Description: "an http:// or https:// URL"}
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			url,
			object(
				property{"url", url},
				property{"format", &jsonschema.Schema{Enum: strs(WebhookFormats), Description: "the payload: json, slack or teams", Default: "json"}},
			),
		}}
	}
	return nil
}

// property is one key of an object schema.
type property struct {
	key    string
	schema *jsonschema.Schema
}

// object is a closed object schema whose first property is required.
func object(props ...property) *jsonschema.Schema {
	o := &jsonschema.Schema{Type: "object", Properties: jsonschema.NewProperties(), Required: []string{props[0].key}, AdditionalProperties: jsonschema.FalseSchema}
	for _, p := range props {
		o.Properties.Set(p.key, p.schema)
	}
	return o
}

func strs(vs []string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// refine adds what the struct types do not say: the closed sets of
// values, the ranges, and scalars that YAML may write as numbers.
func refine(s *jsonschema.Schema) error {
	prop := func(def, key string) (*jsonschema.Schema, error) {
		d := s
		if def != "Config" {
			d = s.Definitions[def]
		}
		if d == nil || d.Properties == nil {
			return nil, fmt.Errorf("schema: no definition %s", def)
		}
		p, ok := d.Properties.Get(key)
		if !ok {
			return nil, fmt.Errorf("schema: %s has no key %s", def, key)
		}
		return p, nil
	}
	// anyScalar: tenants and header values are strings, but YAML reads
	// `1001` as a number, which the loader takes as the string "1001".
	anyScalar := []string{"string", "number", "boolean"}
	rules := []struct {
		def, key string
		apply    func(p *jsonschema.Schema)
	}{
		{"Chain", "inject", func(p *jsonschema.Schema) { p.Items.Enum = strs(InjectFormats) }},
		{"Store", "driver", func(p *jsonschema.Schema) { p.Enum = strs([]string{"embedded", "redis"}) }},
		{"Record", "sample", share},
		{"RouteRecord", "sample", share},
		{"OTLP", "sample", share},
		{"OTLP", "endpoint", func(p *jsonschema.Schema) { p.Pattern = `^https?://[^/?#]` }},
		{"Rollout", "on_fail", func(p *jsonschema.Schema) { p.Enum = strs([]string{"rollback", "hold"}) }},
		{"Rollout", "block_kinds", func(p *jsonschema.Schema) { p.Items.Enum = strs(DiffKinds) }},
		{"Rollout", "max_p99_ratio", func(p *jsonschema.Schema) { p.Minimum = "1" }},
		{"Rollout", "min_samples", func(p *jsonschema.Schema) { p.Minimum = "0" }},
		{"TenantSource", "path_segment", func(p *jsonschema.Schema) { p.Minimum = "1" }},
		{"Gray", "tenants", func(p *jsonschema.Schema) { p.Items.Type, p.Items.Extras = "", map[string]any{"type": anyScalar} }},
		{"Gray", "exclude", func(p *jsonschema.Schema) { p.Items.Type, p.Items.Extras = "", map[string]any{"type": anyScalar} }},
		{"Match", "headers", func(p *jsonschema.Schema) {
			p.AdditionalProperties.Type, p.AdditionalProperties.Extras = "", map[string]any{"type": anyScalar}
		}},
	}
	for _, r := range rules {
		p, err := prop(r.def, r.key)
		if err != nil {
			return err
		}
		r.apply(p)
	}
	s.Definitions["OTLP"].Required = []string{"endpoint"}
	// A tenant source names exactly one place.
	ts := s.Definitions["TenantSource"]
	one := uint64(1)
	ts.MinProperties, ts.MaxProperties = &one, &one
	return nil
}

// share is a number from 0 to 1.
func share(p *jsonschema.Schema) { p.Minimum, p.Maximum = "0", "1" }
