package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/defaults"
)

// Webhook payload formats (Config.WebhookFormat).
const (
	// WebhookJSON posts the Event as the API writes it.
	WebhookJSON = "json"
	// WebhookSlack posts a Slack incoming-webhook message.
	WebhookSlack = "slack"
	// WebhookTeams posts a Microsoft Teams message card.
	WebhookTeams = "teams"
)

// Defaults of WebhookOptions.
const (
	WebhookDefaultTimeout  = 5 * time.Second
	WebhookDefaultAttempts = 4 // one try and 3 retries
	WebhookDefaultBackoff  = 500 * time.Millisecond
	WebhookDefaultQueue    = 256
)

// webhookMaxBackoff caps the doubled retry delay, so that a large
// Attempts neither waits for hours nor overflows the Duration.
const webhookMaxBackoff = time.Minute

// webhookMaxAnswer is how much of an answer's body is read: draining it
// lets the connection be reused, and the bound keeps a receiver that
// streams from holding the sender.
const webhookMaxAnswer = 64 << 10

// WebhookOptions configure a webhook sender. Zero fields, and negative
// numbers, take the defaults.
type WebhookOptions struct {
	Client   *http.Client  // default: &http.Client{Timeout: WebhookDefaultTimeout}
	Attempts int           // tries per notification; default WebhookDefaultAttempts
	Backoff  time.Duration // first retry delay, doubled each retry; default WebhookDefaultBackoff
	Queue    int           // notifications waiting; default WebhookDefaultQueue
	Logger   *slog.Logger  // default slog.Default()
}

// WebhookCounts are the outcomes of one route's notifications.
type WebhookCounts struct {
	Delivered uint64 // answered 2xx
	Failed    uint64 // all attempts used, or refused with a 4xx other than 408 and 429
	Dropped   uint64 // queue full, sender closed, or abandoned when close's ctx ended
}

// webhookJob is one queued notification.
type webhookJob struct {
	url, route string
	body       []byte
}

// webhookSender delivers notifications off the caller's goroutine, one at
// a time, in the order they were sent. It is safe for concurrent use.
// send never blocks: a full queue drops the notification and counts it.
type webhookSender struct {
	client   *http.Client
	attempts int
	backoff  time.Duration
	log      *slog.Logger

	queue chan webhookJob
	done  chan struct{} // closed when run returns
	// ctx ends the request in flight and the retry backoff when close's
	// context ends first.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards closed, the closing of queue, and byRoute
	closed  bool
	byRoute map[string]*WebhookCounts
}

// newWebhookSender returns a sender and starts its goroutine, which runs
// until close.
func newWebhookSender(opt WebhookOptions) *webhookSender {
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: WebhookDefaultTimeout}
	}
	opt.Attempts = defaults.Positive(opt.Attempts, WebhookDefaultAttempts)
	opt.Backoff = defaults.Positive(opt.Backoff, WebhookDefaultBackoff)
	opt.Queue = defaults.Positive(opt.Queue, WebhookDefaultQueue)
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &webhookSender{
		client:   opt.Client,
		attempts: opt.Attempts,
		backoff:  opt.Backoff,
		log:      opt.Logger,
		queue:    make(chan webhookJob, opt.Queue),
		done:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		byRoute:  map[string]*WebhookCounts{},
	}
	go w.run()
	return w
}

// notify queues ev for cfg's webhook in cfg's format; a route without a
// webhook sends nothing.
func (w *webhookSender) notify(cfg *Config, ev Event) {
	if cfg.Webhook == "" {
		return
	}
	body, err := webhookPayload(cfg, ev)
	if err != nil {
		w.log.Warn("rollout: webhook payload", "route", ev.Route, "error", err)
		return
	}
	w.send(cfg.Webhook, ev.Route, body)
}

// send queues body, a JSON document, for url on behalf of route and
// returns whether it was queued. It never blocks: when the queue is full
// or the sender closed, the notification is dropped and counted. The
// sender keeps body until it is delivered; the caller must not change it.
func (w *webhookSender) send(url, route string, body []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		select {
		case w.queue <- webhookJob{url: url, route: route, body: body}:
			return true
		default:
		}
	}
	w.countLocked(route).Dropped++
	return false
}

// close stops taking notifications and waits until the queued ones are
// delivered or failed, or until ctx ends. Then it abandons the one in
// flight, including its retry backoff, and the queued ones, counts them
// as dropped and returns ctx's error without waiting for the goroutine,
// which ends as soon as the request in flight notices. close may be
// called more than once.
func (w *webhookSender) close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.cancel()
		return ctx.Err()
	}
}

// counts returns per route the outcomes so far.
func (w *webhookSender) counts() map[string]WebhookCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]WebhookCounts, len(w.byRoute))
	for route, c := range w.byRoute {
		out[route] = *c
	}
	return out
}

func (w *webhookSender) countLocked(route string) *WebhookCounts {
	c := w.byRoute[route]
	if c == nil {
		c = &WebhookCounts{}
		w.byRoute[route] = c
	}
	return c
}

// run delivers the queued notifications until close has closed the queue
// and it is empty.
func (w *webhookSender) run() {
	defer close(w.done)
	defer w.cancel()
	for j := range w.queue {
		delivered := w.ctx.Err() == nil && w.deliver(j)
		w.mu.Lock()
		c := w.countLocked(j.route)
		switch {
		case delivered:
			c.Delivered++
		case w.ctx.Err() != nil:
			c.Dropped++
		default:
			c.Failed++
		}
		w.mu.Unlock()
	}
}

// deliver posts j until an attempt is answered 2xx, the answer refuses it,
// the attempts are used or w.ctx ends. It reports whether j was delivered.
func (w *webhookSender) deliver(j webhookJob) bool {
	delay := w.backoff
	for attempt := 1; ; attempt++ {
		retry, err := w.post(j)
		if err == nil {
			return true
		}
		if w.ctx.Err() != nil {
			return false
		}
		w.log.Warn("rollout: webhook notification failed",
			"route", j.route, "url", redactURL(j.url), "attempt", attempt, "error", err)
		if !retry || attempt >= w.attempts {
			return false
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
			return false
		}
		delay = min(2*delay, webhookMaxBackoff)
	}
}

// post makes one attempt. It returns nil for a 2xx answer, and otherwise
// whether another attempt may succeed: a 4xx other than 408 (timeout) and
// 429 (too many requests) means the receiver refused the payload, and a
// URL that does not parse stays so.
func (w *webhookSender) post(j webhookJob) (retry bool, err error) {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, j.url, bytes.NewReader(j.body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cutover-webhook")
	resp, err := w.client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.CopyN(io.Discard, resp.Body, webhookMaxAnswer)
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		return false, fmt.Errorf("refused with status %s", resp.Status)
	default:
		return true, fmt.Errorf("status %s", resp.Status)
	}
}

// redactURL keeps the scheme and host of a webhook URL for the log: the
// user info, path and query often hold the secret (Slack-style URLs).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	out := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// RoutePage returns the route's page on the admin UI under base, the
// admin listener's address as people reach it, or "" when base is "".
func RoutePage(base, route string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/ui/routes/" + url.PathEscape(route)
}

// webhookPayload renders ev in cfg's webhook format.
func webhookPayload(cfg *Config, ev Event) ([]byte, error) {
	switch cfg.WebhookFormat {
	case WebhookSlack:
		return json.Marshal(slackMessage(ev, cfg.RoutePage))
	case WebhookTeams:
		return json.Marshal(teamsCard(ev, cfg.RoutePage))
	}
	return json.Marshal(ev)
}

// notice is a transition in words, shared by the chat formats.
type notice struct {
	title      string // "Rollout of orders rolled back"
	transition string // "progressing → rolled back, step 3 at 0% new, by controller"
	reason     string
	color      string // hex, by how much the transition needs a person
	emoji      string // Slack's shortcode for the same
}

// noticeOf puts ev in words.
func noticeOf(ev Event) notice {
	n := notice{
		title:      "Rollout of " + ev.Route + " " + stateWords(ev.To),
		transition: stateWords(ev.To),
		reason:     oneLine(ev.Reason),
		color:      "439FE0", // blue: progress
		emoji:      ":arrow_forward:",
	}
	if ev.From != "" {
		n.transition = stateWords(ev.From) + " → " + n.transition
	}
	n.transition += ", step " + strconv.Itoa(ev.Step) + " at " + fmtPercent(ev.Percent) + " new, by " + ev.By
	switch ev.To {
	case RolledBack:
		n.color, n.emoji = "D0021B", ":rotating_light:" // red
	case Holding, Paused:
		n.color, n.emoji = "F5A623", ":warning:" // amber
	case Promoted:
		n.color, n.emoji = "2EB886", ":white_check_mark:" // green
	}
	return n
}

// stateWords is a state as a sentence says it.
func stateWords(s State) string { return strings.ReplaceAll(string(s), "_", " ") }

// slackMessage is an incoming-webhook payload: text for notifications
// and clients without blocks, and blocks for the message itself, with a
// button to the route's page.
func slackMessage(ev Event, page string) map[string]any {
	n := noticeOf(ev)
	text := n.emoji + " *" + slackEscape(n.title) + "*\n" + slackEscape(n.transition)
	if n.reason != "" {
		text += "\n>" + slackEscape(n.reason)
	}
	blocks := []map[string]any{
		{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}},
	}
	if page != "" {
		blocks = append(blocks, map[string]any{
			"type": "actions",
			"elements": []map[string]any{{
				"type": "button",
				"text": map[string]any{"type": "plain_text", "text": "Open " + ev.Route},
				"url":  page,
			}},
		})
		text += "\n<" + page + "|Open " + slackEscape(ev.Route) + ">"
	}
	return map[string]any{"text": text, "blocks": blocks}
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// teamsCard is an Office 365 connector message card, which Teams'
// incoming webhooks take.
func teamsCard(ev Event, page string) map[string]any {
	n := noticeOf(ev)
	facts := []map[string]string{
		{"name": "Route", "value": ev.Route},
		{"name": "Transition", "value": n.transition},
	}
	if n.reason != "" {
		facts = append(facts, map[string]string{"name": "Reason", "value": n.reason})
	}
	card := map[string]any{
		"@type":      "MessageCard",
		"@context":   "https://schema.org/extensions",
		"summary":    n.title,
		"title":      n.title,
		"themeColor": n.color,
		"sections":   []map[string]any{{"facts": facts}},
	}
	if page != "" {
		card["potentialAction"] = []map[string]any{{
			"@type":   "OpenUri",
			"name":    "Open " + ev.Route,
			"targets": []map[string]string{{"os": "default", "uri": page}},
		}}
	}
	return card
}

// webhookOrigin returns what the status API may show of a webhook URL:
// its scheme and host, with "/…" for a path. Slack and Teams webhooks
// carry their secret in the path, and GET /api/rollouts is readable by
// anyone holding the read token.
func webhookOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		if raw == "" {
			return ""
		}
		return "(set)"
	}
	origin := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		origin += "/…"
	}
	return origin
}
