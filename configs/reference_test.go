package configs

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// referencePage is the configuration reference, relative to this package.
const referencePage = "../docs/configuration.md"

// keyPaths lists every YAML key of t as the configuration reference writes it:
// "services.<name>.timeout", "routes[].match.path_prefix".
func keyPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Elem().Kind() == reflect.Struct:
			out = append(out, keyPaths(ft.Elem().Elem(), path+".<name>.")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Elem().Kind() == reflect.Struct:
			out = append(out, keyPaths(ft.Elem().Elem(), path+"[].")...)
		case ft.Kind() == reflect.Struct && ft.PkgPath() == reflect.TypeFor[Config]().PkgPath() && ft.NumField() > 0 && ft.Field(0).Tag.Get("yaml") != "":
			out = append(out, keyPaths(ft, path+".")...)
		default:
			out = append(out, path)
		}
	}
	return out
}

// TestConfigurationReference keeps the configuration reference
// (docs/configuration.md, between its config-reference markers) and the
// documented structs in step: every key in one is in the other.
func TestConfigurationReference(t *testing.T) {
	data, err := os.ReadFile(referencePage)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "<!-- config-reference:start -->")
	end := strings.Index(text, "<!-- config-reference:end -->")
	if start < 0 || end < start {
		t.Fatalf("%s has no config-reference markers", referencePage)
	}
	rows := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(text[start:end], -1)
	var documented []string
	for _, r := range rows {
		documented = append(documented, r[1])
	}
	want := keyPaths(reflect.TypeFor[Config](), "")
	for _, k := range want {
		if !slices.Contains(documented, k) {
			t.Errorf("%s lacks `%s`", referencePage, k)
		}
	}
	for _, k := range documented {
		if !slices.Contains(want, k) {
			t.Errorf("%s documents `%s`, which the config does not have", referencePage, k)
		}
	}
}
