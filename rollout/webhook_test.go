package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webhookPatience bounds every wait of these tests; reaching it means the
// sender hangs, never that a machine is slow.
const webhookPatience = 10 * time.Second

// startWebhook returns a sender with a 1 ms backoff that logs nothing
// unless opt has a logger. It is closed, abandoning what is left, when
// the test ends.
func startWebhook(t *testing.T, opt WebhookOptions) *webhookSender {
	t.Helper()
	if opt.Backoff == 0 {
		opt.Backoff = time.Millisecond
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	w := newWebhookSender(opt)
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w.close(ctx)
		waitWebhookDone(t, w)
	})
	return w
}

// closeWebhook closes w and fails unless every queued notification was
// finished.
func closeWebhook(t *testing.T, w *webhookSender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), webhookPatience)
	defer cancel()
	if err := w.close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// waitWebhookDone waits for w's goroutine to end.
func waitWebhookDone(t *testing.T, w *webhookSender) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(webhookPatience):
		t.Fatal("the sender's goroutine did not end")
	}
}

func wantCounts(t *testing.T, w *webhookSender, want map[string]WebhookCounts) {
	t.Helper()
	if got := w.counts(); !reflect.DeepEqual(got, want) {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
}

// blockingReceiver holds every request until the test ends (or the
// sender gives up on it). arrived gets a value per request received.
func blockingReceiver(t *testing.T) (srv *httptest.Server, arrived <-chan struct{}) {
	in := make(chan struct{}, 16)
	release := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close, which waits for handlers
	return srv, in
}

// waitSignal waits for a value on c, which stands for what.
func waitSignal(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(webhookPatience):
		t.Fatalf("no %s", what)
	}
}

// statusReceiver answers each request with the next of statuses, the
// last one repeating, and counts the requests.
func statusReceiver(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		i := int(n.Add(1)) - 1
		rw.WriteHeader(statuses[min(i, len(statuses)-1)])
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestWebhookDelivered(t *testing.T) {
	type received struct {
		method, path, contentType, userAgent, body string
	}
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), string(body)})
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w := startWebhook(t, WebhookOptions{})
	bodies := []string{`{"route":"orders","to":"progressing"}`, `{"route":"orders","to":"promoted"}`, `{"route":"items","to":"holding"}`}
	routes := []string{"orders", "orders", "items"}
	for i, b := range bodies {
		if !w.send(srv.URL+"/hook", routes[i], []byte(b)) {
			t.Fatalf("send %d was not queued", i)
		}
	}
	closeWebhook(t, w) // waits for the queued notifications

	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(bodies) {
		t.Fatalf("receiver got %d requests, want %d", len(got), len(bodies))
	}
	for i, r := range got {
		want := received{http.MethodPost, "/hook", "application/json", "cutover-webhook", bodies[i]}
		if r != want {
			t.Errorf("request %d = %+v, want %+v", i, r, want)
		}
	}
	wantCounts(t, w, map[string]WebhookCounts{"orders": {Delivered: 2}, "items": {Delivered: 1}})
}

func TestWebhookRetriesThenDelivers(t *testing.T) {
	srv, n := statusReceiver(t, 500, 500, 200)
	var logs bytes.Buffer
	w := startWebhook(t, WebhookOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w.send(srv.URL, "orders", []byte(`{}`))
	closeWebhook(t, w)
	if got := n.Load(); got != 3 {
		t.Errorf("receiver got %d requests, want 3", got)
	}
	wantCounts(t, w, map[string]WebhookCounts{"orders": {Delivered: 1}})
	if got := strings.Count(logs.String(), "level=WARN"); got != 2 {
		t.Errorf("%d warnings logged, want one per failed attempt (2):\n%s", got, &logs)
	}
}

func TestWebhookFailures(t *testing.T) {
	for _, tc := range []struct {
		status, attempts int
		wantRequests     int64
	}{
		{http.StatusBadRequest, 0, 1}, // refused: not retried
		{http.StatusNotFound, 0, 1},
		{http.StatusRequestTimeout, 0, WebhookDefaultAttempts},
		{http.StatusTooManyRequests, 0, WebhookDefaultAttempts},
		{http.StatusInternalServerError, 0, WebhookDefaultAttempts},
		{http.StatusInternalServerError, 2, 2},
		{http.StatusServiceUnavailable, 0, WebhookDefaultAttempts},
		{http.StatusFound, 0, WebhookDefaultAttempts}, // a redirect without Location is no delivery
	} {
		t.Run(fmt.Sprintf("%d/attempts=%d", tc.status, tc.attempts), func(t *testing.T) {
			srv, n := statusReceiver(t, tc.status)
			var logs bytes.Buffer
			w := startWebhook(t, WebhookOptions{Attempts: tc.attempts, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			w.send(srv.URL, "orders", []byte(`{}`))
			closeWebhook(t, w)
			if got := n.Load(); got != tc.wantRequests {
				t.Errorf("receiver got %d requests, want %d", got, tc.wantRequests)
			}
			wantCounts(t, w, map[string]WebhookCounts{"orders": {Failed: 1}})
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if int64(len(lines)) != tc.wantRequests {
				t.Fatalf("%d lines logged, want one per attempt (%d):\n%s", len(lines), tc.wantRequests, &logs)
			}
			for i, line := range lines {
				for _, want := range []string{"level=WARN", "route=orders", "url=" + srv.URL, fmt.Sprintf("attempt=%d", i+1), fmt.Sprint(tc.status)} {
					if !strings.Contains(line, want) {
						t.Errorf("log line %d lacks %q: %s", i+1, want, line)
					}
				}
			}
		})
	}
}

func TestWebhookTransportErrors(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // its port now refuses connections
	var logs bytes.Buffer
	w := startWebhook(t, WebhookOptions{Attempts: 3, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w.send(gone.URL, "orders", []byte(`{}`))
	w.send("http://[::1", "items", []byte(`{}`)) // does not parse: retrying cannot help
	closeWebhook(t, w)
	wantCounts(t, w, map[string]WebhookCounts{"orders": {Failed: 1}, "items": {Failed: 1}})
	log := logs.String()
	if got := strings.Count(log, "route=orders"); got != 3 {
		t.Errorf("orders: %d failures logged, want 3:\n%s", got, log)
	}
	if got := strings.Count(log, "route=items"); got != 1 {
		t.Errorf("items: %d failures logged, want 1:\n%s", got, log)
	}
}

func TestWebhookSendNeverBlocks(t *testing.T) {
	srv, arrived := blockingReceiver(t)
	w := startWebhook(t, WebhookOptions{Queue: 1})
	if !w.send(srv.URL, "orders", []byte(`{}`)) {
		t.Fatal("the first send was not queued")
	}
	waitSignal(t, arrived, "request arrived") // the goroutine holds it: the queue is empty

	// A send that blocked would hang here; the deadline only catches that.
	results := make(chan []bool, 1)
	go func() {
		var r []bool
		for _, route := range []string{"orders", "orders", "orders", "items"} {
			r = append(r, w.send(srv.URL, route, []byte(`{}`)))
		}
		results <- r
	}()
	select {
	case got := <-results:
		if want := []bool{true, false, false, false}; !reflect.DeepEqual(got, want) {
			t.Errorf("send results = %v, want %v (one fills the queue of 1, the rest drop)", got, want)
		}
	case <-time.After(webhookPatience):
		t.Fatal("send blocked behind a stuck receiver")
	}
	wantCounts(t, w, map[string]WebhookCounts{"orders": {Dropped: 2}, "items": {Dropped: 1}})
}

func TestWebhookCloseAbandonsPending(t *testing.T) {
	srv, arrived := blockingReceiver(t)
	w := startWebhook(t, WebhookOptions{})
	w.send(srv.URL, "orders", []byte(`{}`))
	waitSignal(t, arrived, "request arrived")
	w.send(srv.URL, "orders", []byte(`{}`))
	w.send(srv.URL, "orders", []byte(`{}`))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errc := make(chan error, 1)
	go func() { errc <- w.close(ctx) }()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("close = %v, want context.Canceled", err)
		}
	case <-time.After(webhookPatience):
		t.Fatal("close did not return when its context ended")
	}
	if w.send(srv.URL, "orders", []byte(`{}`)) {
		t.Error("send after close queued the notification")
	}
	waitWebhookDone(t, w)
	// The one in flight, the two queued and the one sent after close.
	wantCounts(t, w, map[string]WebhookCounts{"orders": {Dropped: 4}})
}

// signalHandler is a slog.Handler that sends a value on c per record.
type signalHandler struct{ c chan<- struct{} }

func (h signalHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (h signalHandler) Handle(context.Context, slog.Record) error { h.c <- struct{}{}; return nil }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h signalHandler) WithGroup(string) slog.Handler             { return h }

func TestWebhookCloseEndsBackoff(t *testing.T) {
	srv, n := statusReceiver(t, http.StatusInternalServerError)
	failed := make(chan struct{}, 1)
	w := startWebhook(t, WebhookOptions{Attempts: 2, Backoff: time.Hour, Logger: slog.New(signalHandler{failed})})
	w.send(srv.URL, "orders", []byte(`{}`))
	// The failure is logged once the attempt is over, just before the
	// hour's backoff: close must end that, not the request.
	waitSignal(t, failed, "failure logged")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("close = %v, want context.Canceled", err)
	}
	waitWebhookDone(t, w) // would wait the hour if the backoff ignored close
	if got := n.Load(); got != 1 {
		t.Errorf("receiver got %d requests, want 1", got)
	}
	wantCounts(t, w, map[string]WebhookCounts{"orders": {Dropped: 1}})
}

func TestWebhookDefaults(t *testing.T) {
	w := newWebhookSender(WebhookOptions{Attempts: -1, Backoff: -1, Queue: -1})
	defer w.close(context.Background())
	if w.attempts != WebhookDefaultAttempts || w.backoff != WebhookDefaultBackoff || cap(w.queue) != WebhookDefaultQueue {
		t.Errorf("attempts %d, backoff %s, queue %d: want the defaults", w.attempts, w.backoff, cap(w.queue))
	}
	if w.client == nil || w.client.Timeout != WebhookDefaultTimeout || w.log == nil {
		t.Errorf("client %+v, logger %v: want the defaults", w.client, w.log)
	}
}

func TestWebhookURLRedacted(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T000/B000/XXXX": "https://hooks.slack.com/…",
		"http://user:secret@127.0.0.1:9000/":              "http://127.0.0.1:9000/…",
		"http://127.0.0.1:9000?token=x":                   "http://127.0.0.1:9000/…",
		"http://127.0.0.1:9000":                           "http://127.0.0.1:9000",
		"::":                                              "(unparsable URL)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWebhookFormats posts one rollback in each format to a real receiver
// and reads back what a chat tool would show: the route, the transition,
// the reason and the link to the route's page.
func TestWebhookFormats(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]byte{} // by path: /json, /slack, /teams
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path] = body
		mu.Unlock()
	}))
	defer srv.Close()
	ev := Event{
		Time: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Route: "orders", From: Progressing, To: RolledBack,
		Step: 3, Percent: 0, By: ByController, Reason: "step 3 (10%) failed: diff rate 4% > 0.5% <limit>",
	}
	page := RoutePage("https://gw.example.com/admin/", "orders")
	if page != "https://gw.example.com/admin/ui/routes/orders" {
		t.Fatalf("RoutePage = %q", page)
	}
	w := startWebhook(t, WebhookOptions{})
	for _, f := range []string{WebhookJSON, WebhookSlack, WebhookTeams} {
		w.notify(&Config{Webhook: srv.URL + "/" + f, WebhookFormat: f, RoutePage: page}, ev)
	}
	w.notify(&Config{WebhookFormat: WebhookSlack}, ev) // no webhook: nothing sent
	closeWebhook(t, w)
	wantCounts(t, w, map[string]WebhookCounts{"orders": {Delivered: 3}})
	mu.Lock()
	defer mu.Unlock()

	var back Event
	if err := json.Unmarshal(got["/json"], &back); err != nil || !reflect.DeepEqual(back, ev) {
		t.Errorf("json payload %s decodes to %+v (%v), want %+v", got["/json"], back, err, ev)
	}

	var slack struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct {
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				URL string `json:"url"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(got["/slack"], &slack); err != nil {
		t.Fatalf("slack payload %s: %v", got["/slack"], err)
	}
	for _, want := range []string{"Rollout of orders rolled back", "progressing → rolled back, step 3", "&lt;limit&gt;", "<" + page + "|Open orders>"} {
		if !strings.Contains(slack.Text, want) {
			t.Errorf("slack text %q lacks %q", slack.Text, want)
		}
	}
	if len(slack.Blocks) != 2 || !strings.Contains(slack.Blocks[0].Text.Text, "diff rate 4%") ||
		len(slack.Blocks[1].Elements) != 1 || slack.Blocks[1].Elements[0].URL != page {
		t.Errorf("slack blocks = %+v, want the message and a button to %s", slack.Blocks, page)
	}

	var teams struct {
		Type     string `json:"@type"`
		Title    string `json:"title"`
		Sections []struct {
			Facts []struct{ Name, Value string } `json:"facts"`
		} `json:"sections"`
		Actions []struct {
			Type    string                 `json:"@type"`
			Targets []struct{ URI string } `json:"targets"`
		} `json:"potentialAction"`
	}
	if err := json.Unmarshal(got["/teams"], &teams); err != nil {
		t.Fatalf("teams payload %s: %v", got["/teams"], err)
	}
	if teams.Type != "MessageCard" || teams.Title != "Rollout of orders rolled back" {
		t.Errorf("teams card %s: type %q title %q", got["/teams"], teams.Type, teams.Title)
	}
	facts := map[string]string{}
	for _, s := range teams.Sections {
		for _, f := range s.Facts {
			facts[f.Name] = f.Value
		}
	}
	if facts["Route"] != "orders" || !strings.HasPrefix(facts["Transition"], "progressing → rolled back") || facts["Reason"] != ev.Reason {
		t.Errorf("teams facts = %v", facts)
	}
	if len(teams.Actions) != 1 || teams.Actions[0].Type != "OpenUri" || len(teams.Actions[0].Targets) != 1 || teams.Actions[0].Targets[0].URI != page {
		t.Errorf("teams actions = %+v, want one OpenUri to %s", teams.Actions, page)
	}
}

// TestWebhookChatWithoutPage: with no admin.external_url the chat formats
// carry no link.
func TestWebhookChatWithoutPage(t *testing.T) {
	ev := Event{Route: "orders", From: Holding, To: Promoted, Step: 4, Percent: 100, By: ByHand, Reason: "promoted by hand"}
	if RoutePage("", "orders") != "" {
		t.Fatal(`RoutePage("", …) is not empty`)
	}
	for _, f := range []string{WebhookSlack, WebhookTeams} {
		body, err := webhookPayload(&Config{Webhook: "http://127.0.0.1:1/", WebhookFormat: f}, ev)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(body, []byte("/ui/routes/")) || bytes.Contains(body, []byte("potentialAction")) || bytes.Contains(body, []byte(`"actions"`)) {
			t.Errorf("%s payload links without a page: %s", f, body)
		}
		if !bytes.Contains(body, []byte("Rollout of orders promoted")) {
			t.Errorf("%s payload lacks the title: %s", f, body)
		}
	}
}
