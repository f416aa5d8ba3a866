package configs

import (
	"strings"
	"testing"
)

func TestTracingDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte("tracing:\n  otlp: { endpoint: \"http://127.0.0.1:4318\" }\n"+validBase))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Tracing.OTLP
	if o == nil || o.Endpoint != "http://127.0.0.1:4318" || *o.Sample != DefaultTracingSample || o.ServiceName != DefaultTracingService {
		t.Errorf("tracing.otlp %+v: defaults not applied", o)
	}
	if c, err := Parse("t.yaml", []byte(validBase)); err != nil || c.Tracing.OTLP != nil {
		t.Errorf("without tracing: %+v, %v; want no otlp", c.Tracing, err)
	}
}

func TestTracingErrors(t *testing.T) {
	for _, tc := range []struct{ name, head, want string }{
		{"no endpoint", "tracing:\n  otlp: { sample: 0.5 }\n", `t.yaml:2: tracing.otlp.endpoint: the collector's OTLP/HTTP URL is required`},
		{"endpoint without scheme", "tracing:\n  otlp:\n    endpoint: otel:4318\n", `t.yaml:3: tracing.otlp.endpoint: "otel:4318" is not an http:// or https:// URL`},
		{"endpoint with query", "tracing:\n  otlp:\n    endpoint: http://otel:4318/?x=1\n", `t.yaml:3: tracing.otlp.endpoint: "http://otel:4318/?x=1" may not carry a query`},
		{"sample above 1", "tracing:\n  otlp:\n    endpoint: http://otel:4318\n    sample: 2\n", `t.yaml:4: tracing.otlp.sample: 2 is not a share from 0 to 1`},
		{"misspelt key", "tracing:\n  otlp:\n    endpoint: http://otel:4318\n    servic_name: x\n", `t.yaml:4: tracing.otlp.servic_name: unknown key "servic_name" (did you mean "service_name"?)`},
	} {
		_, err := Parse("t.yaml", []byte(tc.head+validBase))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
