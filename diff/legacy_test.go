package diff

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"
)

// testdata/legacy holds the JSON statistics of filledAggregator(Seed 3)
// as embedded stores kept them before tallies, and that aggregator's
// report: converted, the counts report the same.
func TestLegacyDeltaReportsTheSame(t *testing.T) {
	state, err := os.ReadFile("testdata/legacy/state.json")
	if err != nil {
		t.Fatal(err)
	}
	var want RouteReport
	if b, err := os.ReadFile("testdata/legacy/report.json"); err != nil || json.Unmarshal(b, &want) != nil {
		t.Fatalf("report.json: %v", err)
	}
	d, err := LegacyDelta("orders", state)
	if err != nil {
		t.Fatal(err)
	}
	// A store hands the sample lists back newest first.
	lists := d.RecentLists()
	for _, items := range lists {
		slices.Reverse(items)
	}
	a, err := NewAggregatorFrom("orders", AggregatorOptions{}, d.Total, nil, SampleRefs(lists))
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Report(t0.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("converted report\n%s\nwant\n%s", g, w)
	}

	for _, bad := range []struct{ route, state string }{
		{"items", string(state)},
		{"orders", `{"v":2,"route":"orders"}`},
		{"orders", `{"v":1,"route":"orders","compared":1,"fields":[{"path":"a","kind":"value","count":2}]}`},
		{"orders", `not json`},
	} {
		if _, err := LegacyDelta(bad.route, []byte(bad.state)); err == nil {
			t.Errorf("LegacyDelta(%q, %.40s) accepted", bad.route, bad.state)
		}
	}
}
