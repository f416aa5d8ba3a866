package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/diff"
)

// On-fail policies.
const (
	OnFailRollback = "rollback"
	OnFailHold     = "hold"
)

// Config is one route's rollout rules.
type Config struct {
	Steps        []float64     // percents served by new, increasing, the last 100
	MinSamples   uint64        // compared old/new pairs a step needs
	MinDuration  time.Duration // time a step lasts at least
	MaxDiffRate  float64       // share of pairs with a non-noise difference, 0 to 1
	MaxErrorRate float64       // share of new's calls answered 5xx or failed, 0 to 1
	MaxP99Ratio  float64       // new p99 / old p99
	OnFail       string        // OnFailRollback or OnFailHold
	BlockKinds   []diff.Kind   // a non-noise difference of these kinds fails the step
	Confidence   float64       // of the Wilson intervals, 0.5 to 0.999
	Webhook      string        // "" sends no notification
	// WebhookFormat is the payload posted to Webhook: WebhookJSON ("" too),
	// WebhookSlack or WebhookTeams.
	WebhookFormat string
	// RoutePage is the route's page on the admin UI that chat messages
	// link to; "" links nothing.
	RoutePage string
}

// Fingerprint identifies the rules that decide a rollout; a reload that
// changes it restarts the rollout at its first step. The webhook is left
// out: changing where notifications go decides nothing.
func (c *Config) Fingerprint() string {
	kinds := make([]string, len(c.BlockKinds))
	for i, k := range c.BlockKinds {
		kinds[i] = k.String()
	}
	slices.Sort(kinds)
	return fmt.Sprintf("steps=%v min_samples=%d min_duration=%s max_diff_rate=%g max_error_rate=%g max_p99_ratio=%g on_fail=%s block_kinds=%s confidence=%g",
		c.Steps, c.MinSamples, c.MinDuration, c.MaxDiffRate, c.MaxErrorRate, c.MaxP99Ratio, c.OnFail, strings.Join(kinds, ","), c.Confidence)
}

// State is where a rollout stands.
type State string

// Rollout states.
const (
	// Pending: at the first step, no compared pair or call of new yet.
	Pending State = "pending"
	// Progressing: a step is collecting its samples and time.
	Progressing State = "progressing"
	// Holding: the step has its samples and time but the evidence is not
	// yet conclusive, or it failed under on_fail: hold. Reason says which.
	Holding State = "holding"
	// Paused by hand: the percent stays and nothing is decided.
	Paused State = "paused"
	// Promoted: new serves 100%.
	Promoted State = "promoted"
	// RolledBack: new serves 0% (listed gray tenants excepted). Reason says why.
	RolledBack State = "rolled_back"
)

// Event is one transition of a rollout.
type Event struct {
	Time    time.Time `json:"time"`
	Route   string    `json:"route"`
	From    State     `json:"from,omitempty"` // "" for the first event of a rollout
	To      State     `json:"to"`
	Step    int       `json:"step"`    // 1-based, of the state entered
	Percent float64   `json:"percent"` // served by new in the state entered
	Reason  string    `json:"reason"`
	// By says who moved: "controller" (the gate), "hand" (the API or
	// CLI), or "config" (start, reload).
	By     string  `json:"by"`
	Checks []Check `json:"checks,omitempty"` // the gate's readings when it decided
}

// Who moves a rollout.
const (
	ByController = "controller"
	ByHand       = "hand"
	ByConfig     = "config"
)

// Check is one reading of a step's gate.
type Check struct {
	// Name is one of samples, duration, noise_baseline, diff_rate,
	// error_rate, p99_ratio, block_kinds.
	Name   string  `json:"name"`
	Status string  `json:"status"` // pass, fail or wait
	Count  uint64  `json:"count"`  // events counted (differing pairs, errors, slow answers)
	N      uint64  `json:"n"`      // out of
	Value  float64 `json:"value"`  // the rate, the ratio, seconds or a count
	Lower  float64 `json:"lower,omitempty"`
	Upper  float64 `json:"upper,omitempty"`
	Limit  float64 `json:"limit"`
	Detail string  `json:"detail"` // the reading in words
}

// Check statuses.
const (
	CheckPass = "pass"
	CheckFail = "fail"
	CheckWait = "wait"
)

// Status is a rollout as GET /api/rollouts shows it.
type Status struct {
	Route string `json:"route"`
	// Cohort and Members are set on a cohort's rollout: its name, and
	// every member route (Route is the first), which ramp together.
	Cohort      string    `json:"cohort,omitempty"`
	Members     []string  `json:"members,omitempty"`
	State       State     `json:"state"`
	Step        int       `json:"step"` // 1-based
	Steps       []float64 `json:"steps"`
	Percent     float64   `json:"percent"`
	Reason      string    `json:"reason,omitempty"`
	Since       time.Time `json:"since"`        // when the state was entered
	StepStarted time.Time `json:"step_started"` // when the step began
	// WaitingFor says what the step needs before the gate can decide, or
	// why it holds; "" once the rollout is promoted or rolled back.
	WaitingFor string     `json:"waiting_for,omitempty"`
	Counts     StepCounts `json:"counts"`
	Checks     []Check    `json:"checks"`
	Limits     Limits     `json:"limits"`
	// Webhook is the notification URL's scheme and host only: chat
	// webhooks carry their secret in the path.
	Webhook string `json:"webhook,omitempty"`
	// Leading is set once the controller has a store: whether this
	// replica holds the lease and decides; the others follow the stored
	// state. On the embedded store the one gateway leads.
	Leading *bool `json:"leading,omitempty"`
}

// StepCounts are what the current step has counted.
type StepCounts struct {
	Compared   uint64  `json:"compared"`    // old/new pairs
	Differing  uint64  `json:"differing"`   // of them with a non-noise difference
	Calls      uint64  `json:"calls"`       // calls new answered or failed, served and shadow
	Errors     uint64  `json:"errors"`      // of them 5xx or failed
	NoisePairs uint64  `json:"noise_pairs"` // old/secondary pairs of the route's baseline
	OldP99     float64 `json:"old_p99_ms"`
	NewP99     float64 `json:"new_p99_ms"`
}

// Limits are a rollout's rules as the API shows them.
type Limits struct {
	MinSamples   uint64   `json:"min_samples"`
	MinDuration  string   `json:"min_duration"`
	MaxDiffRate  float64  `json:"max_diff_rate"`
	MaxErrorRate float64  `json:"max_error_rate"`
	MaxP99Ratio  float64  `json:"max_p99_ratio"`
	OnFail       string   `json:"on_fail"`
	BlockKinds   []string `json:"block_kinds,omitempty"`
	Confidence   float64  `json:"confidence"`
}
