package gateway

import (
	"slices"
	"testing"

	"github.com/cutover/cutover/configs"
)

func TestRestartRequired(t *testing.T) {
	base := `
services: { app: { targets: ["127.0.0.1:9001"] } }
routes: [ { name: all, upstream: app } ]
`
	parse := func(head string) *configs.Config {
		c, err := configs.Parse("t.yaml", []byte(head+base))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := parse("")
	tests := []struct {
		head string
		want []string
	}{
		{"debug_headers: true\nrecord: { sample: 0.5, max_body: 1KiB }\n", nil},
		{"listen: \":9090\"\n", []string{"listen"}},
		{"store: { path: /tmp/x.db }\n", []string{"store"}},
		{"record: { redact: { json: [password] } }\nmax_body: 1MiB\nstream_above: 2MiB\n", nil},
		{"client_header_timeout: 3s\n", []string{"client_header_timeout"}},
	}
	for _, tt := range tests {
		if got := restartRequired(old, parse(tt.head)); !slices.Equal(got, tt.want) {
			t.Errorf("%q: restart required for %v, want %v", tt.head, got, tt.want)
		}
	}
}
