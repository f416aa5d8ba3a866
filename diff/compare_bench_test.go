package diff

import (
	"testing"
	"time"

	"github.com/wI2L/jsondiff"
)

// benchOrderJSON is a realistic order response of about 1 KiB.
const benchOrderJSON = `{"id":"ord_8f3a2c1e","status":"confirmed","createdAt":"2024-05-01T10:00:00Z","updatedAt":"2024-05-01T10:05:00.123Z","customer":{"id":1001,"name":"Ann Example","email":"ann@example.com","tier":"gold","address":{"street":"1 Main St","city":"Oslo","zip":"0150","country":"NO"}},"items":[{"sku":"A-100","name":"Widget","qty":2,"price":9.99,"tags":["blue","small"]},{"sku":"B-200","name":"Gadget","qty":1,"price":24.5,"tags":["red"]},{"sku":"C-300","name":"Doohickey","qty":5,"price":1.25,"tags":[]},{"sku":"D-400","name":"Thingamajig","qty":1,"price":14.99,"tags":["green","large","sale"]}],"totals":{"subtotal":65.72,"tax":16.43,"shipping":4.9,"discount":0,"total":87.05,"currency":"EUR"},"payment":{"method":"card","brand":"visa","last4":"4242","authorized":true,"capturedAt":null},"shipping":{"carrier":"DHL","tracking":null,"eta":"2024-05-03","address":{"street":"1 Main St","city":"Oslo","zip":"0150","country":"NO"}},"flags":["gift","priority"],"meta":{"requestId":"req-7c1d9e02-5b7a-4f3e","version":3,"region":"eu-west-1","servedBy":"order-v1-7d9f"}}`

// benchOrderReorderedJSON is benchOrderJSON with every object's keys in
// reverse order.
const benchOrderReorderedJSON = `{"meta":{"servedBy":"order-v1-7d9f","region":"eu-west-1","version":3,"requestId":"req-7c1d9e02-5b7a-4f3e"},"flags":["gift","priority"],"shipping":{"address":{"country":"NO","zip":"0150","city":"Oslo","street":"1 Main St"},"eta":"2024-05-03","tracking":null,"carrier":"DHL"},"payment":{"capturedAt":null,"authorized":true,"last4":"4242","brand":"visa","method":"card"},"totals":{"currency":"EUR","total":87.05,"discount":0,"shipping":4.9,"tax":16.43,"subtotal":65.72},"items":[{"tags":["blue","small"],"price":9.99,"qty":2,"name":"Widget","sku":"A-100"},{"tags":["red"],"price":24.5,"qty":1,"name":"Gadget","sku":"B-200"},{"tags":[],"price":1.25,"qty":5,"name":"Doohickey","sku":"C-300"},{"tags":["green","large","sale"],"price":14.99,"qty":1,"name":"Thingamajig","sku":"D-400"}],"customer":{"address":{"country":"NO","zip":"0150","city":"Oslo","street":"1 Main St"},"tier":"gold","email":"ann@example.com","name":"Ann Example","id":1001},"updatedAt":"2024-05-01T10:05:00.123Z","createdAt":"2024-05-01T10:00:00Z","status":"confirmed","id":"ord_8f3a2c1e"}`

// benchOrderDifferingJSON differs from benchOrderJSON in six places of
// five kinds (value status and totals.total, type customer.id, length
// items.#.tags, missing payment.last4, extra shipping.service) and in the
// ignored meta.requestId.
const benchOrderDifferingJSON = `{"id":"ord_8f3a2c1e","status":"CONFIRMED","createdAt":"2024-05-01T10:00:00Z","updatedAt":"2024-05-01T10:05:00.123Z","customer":{"id":"1001","name":"Ann Example","email":"ann@example.com","tier":"gold","address":{"street":"1 Main St","city":"Oslo","zip":"0150","country":"NO"}},"items":[{"sku":"A-100","name":"Widget","qty":2,"price":9.99,"tags":["blue"]},{"sku":"B-200","name":"Gadget","qty":1,"price":24.5,"tags":["red"]},{"sku":"C-300","name":"Doohickey","qty":5,"price":1.25,"tags":[]},{"sku":"D-400","name":"Thingamajig","qty":1,"price":14.99,"tags":["green","large","sale"]}],"totals":{"subtotal":65.72,"tax":16.43,"shipping":4.9,"discount":0,"total":87.06,"currency":"EUR"},"payment":{"method":"card","brand":"visa","authorized":true,"capturedAt":null},"shipping":{"carrier":"DHL","tracking":null,"eta":"2024-05-03","address":{"street":"1 Main St","city":"Oslo","zip":"0150","country":"NO"},"service":"express"},"flags":["gift","priority"],"meta":{"requestId":"req-0000","version":3,"region":"eu-west-1","servedBy":"order-v1-7d9f"}}`

// benchOrderDifferences is what Compare reports for the differing pair
// under benchRules.
const benchOrderDifferences = "type customer.id\nlength items.#.tags\nmissing payment.last4\nextra shipping.service\nvalue status\nvalue totals.total\n"

func benchOrder(differing bool) []byte {
	if differing {
		return []byte(benchOrderDifferingJSON)
	}
	return []byte(benchOrderJSON)
}

func benchOrderReordered() []byte { return []byte(benchOrderReorderedJSON) }

// benchRules is a typical route's diff section.
func benchRules(t testing.TB) *Compiled {
	return mustCompileRules(t, Rules{
		Ignore:            []string{"requestId", "servedBy"},
		Unordered:         []Unordered{{Path: "items", Key: "sku"}, {Path: "flags"}},
		FloatEpsilon:      1e-9,
		Headers:           []string{"Content-Type"},
		NullEqualsMissing: true,
		TimeTolerance:     time.Second,
	})
}

var benchHeaders = []byte("Content-Type: application/json\r\nDate: Wed, 01 May 2024 10:00:00 GMT\r\nContent-Length: 1053\r\n")

func benchCompare(b *testing.B, old, new []byte, want string) {
	rules := benchRules(b)
	c := NewComparer()
	o := &Response{Status: 200, Headers: benchHeaders, Body: old}
	n := &Response{Status: 200, Headers: benchHeaders, Body: new}
	dst := make([]Difference, 0, 16)
	if got := goldenFormat(c.Compare(o, n, rules, dst)); got != want {
		b.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	b.SetBytes(int64(len(old) + len(new)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = c.Compare(o, n, rules, dst)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

func BenchmarkCompareIdentical1KiB(b *testing.B) {
	benchCompare(b, benchOrder(false), benchOrder(false), "")
}

func BenchmarkCompareEquivalent1KiB(b *testing.B) {
	benchCompare(b, benchOrder(false), benchOrderReordered(), "")
}

func BenchmarkCompareDiffering1KiB(b *testing.B) {
	benchCompare(b, benchOrder(false), benchOrder(true), benchOrderDifferences)
}

// BenchmarkCompareDifferingStrict1KiB is the differing pair with no rules.
func BenchmarkCompareDifferingStrict1KiB(b *testing.B) {
	c := NewComparer()
	o := &Response{Status: 200, Body: benchOrder(false)}
	n := &Response{Status: 200, Body: benchOrder(true)}
	dst := make([]Difference, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst = c.Compare(o, n, nil, dst)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkCompareGzipDiffering1KiB: both sides gzip-encoded.
func BenchmarkCompareGzipDiffering1KiB(b *testing.B) {
	rules := benchRules(b)
	c := NewComparer()
	h := append([]byte("Content-Encoding: gzip\r\n"), benchHeaders...)
	o := &Response{Status: 200, Headers: h, Body: gzipBytes(benchOrder(false))}
	n := &Response{Status: 200, Headers: h, Body: gzipBytes(benchOrder(true))}
	dst := make([]Difference, 0, 16)
	if got := goldenFormat(c.Compare(o, n, rules, dst)); got != benchOrderDifferences {
		b.Fatalf("got:\n%s", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		dst = c.Compare(o, n, rules, dst)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkJSONDiffLibrary runs github.com/wI2L/jsondiff on the differing
// pair, for comparison: it decodes both documents into maps and produces
// an RFC 6902 patch.
func BenchmarkJSONDiffLibrary(b *testing.B) {
	old, new := benchOrder(false), benchOrder(true)
	patch, err := jsondiff.CompareJSON(old, new, jsondiff.Ignores("/meta/requestId"))
	if err != nil || len(patch) == 0 {
		b.Fatalf("patch %v, err %v", patch, err)
	}
	b.SetBytes(int64(len(old) + len(new)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := jsondiff.CompareJSON(old, new, jsondiff.Ignores("/meta/requestId")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
