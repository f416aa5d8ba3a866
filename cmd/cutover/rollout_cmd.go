package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/rollout"
)

// rolloutClock is the clock `cutover rollout status` measures the time in
// a state and stamps --watch separators with; tests fix it.
var rolloutClock = time.Now

const rolloutStates = `States:
  pending      at the first step; no compared pair or call of new yet
  progressing  a step is collecting its compared pairs (min_samples) and its time
               (min_duration)
  holding      the step has them but its evidence is not conclusive yet, or it failed
               under on_fail: hold; the percent stays and the reason says which
  paused       paused by hand: the percent stays and nothing is decided
  promoted     new serves 100%
  rolled_back  new serves 0% (tenants in gray.tenants excepted); the reason says why`

const rolloutActions = `Actions (POST /api/rollouts/ROUTE/ACTION on the admin API):
  pause     keep the current percent and stop deciding, until resume
  resume    continue a paused step; restart a failed holding step with fresh
            counts; restart a rolled-back rollout at its first step
  promote   send 100% of the route's traffic to new now
  rollback  send 0% to new now (tenants in gray.tenants excepted)
An action that does not apply in the current state (resume of a progressing
rollout, say) is refused: the API answers 409 and the command exits 1.`

const rolloutUsage = `Usage: cutover rollout <command> [flags] [ROUTE]

Drive a route's rollout: the step-by-step ramp of the share of traffic served by
new (rollout.steps; 1 2 10 20 40 80 100% by default). A step lasts until it has
min_samples compared pairs and min_duration of time; its gate then advances it when
the diff rate, the error rate and the p99 ratio are within their limits with
confidence, and fails it (on_fail: rollback or hold) when one is above its limit
with confidence or a difference of a blocked kind appears.

Commands:
  status [ROUTE]   every rollout, or one: state, step, percent and the gate's
                   readings; --watch repeats until each is promoted or rolled back
  pause ROUTE      keep the percent, stop deciding
  resume ROUTE     continue after pause, hold or rollback
  promote ROUTE    send 100% to new now
  rollback ROUTE   send 0% to new now (--reason TEXT is recorded in the event)
  events ROUTE     the rollout's transitions, oldest first

` + rolloutStates + `

` + rolloutActions + `

Exit codes: 0 ok; 1 the admin API is unreachable or refused (unknown route, an
action that does not apply); 2 usage; 3 status --watch saw a rollout rolled back.

Every command takes --admin URL and --token-env VAR.
Run 'cutover rollout <command> --help' for a command's flags.
`

func cmdRollout(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, rolloutUsage)
		return exitUsage
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, rolloutUsage)
		return exitOK
	case "status":
		return cmdRolloutStatus(rest, stdout, stderr)
	case "events":
		return cmdRolloutEvents(rest, stdout, stderr)
	case "pause", "resume", "promote", "rollback":
		return cmdRolloutAction(sub, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "cutover rollout: unknown command %q\n\n%s", args[0], rolloutUsage)
	return exitUsage
}

func cmdRolloutStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rollout status", "rollout status [ROUTE] [--format table|json] [--watch [--interval 2s] [--timeout D]] [--admin URL]",
		"Show every rollout, or ROUTE's: its state, step, the percent served by new, how\n"+
			"long it has been in the state, and the gate's readings of the step: compared\n"+
			"pairs and time against min_samples and min_duration, the diff and error rates\n"+
			"with the Wilson bound that decides them, the p99 ratio, and what the step waits\n"+
			"for or why it holds or was rolled back.\n\n"+
			"With --watch the status is printed again every --interval, after a '--- TIME'\n"+
			"line (with --format json: one JSON document per poll), until every rollout shown\n"+
			"is promoted or rolled back. The exit code then says how it ended: 0 when all\n"+
			"were promoted, 3 when a rollout was rolled back; 1 when --timeout passes first\n"+
			"or the admin API fails. A CI job can wait on a rollout this way.\n\n"+
			rolloutStates, stderr)
	format := fs.String("format", "table", "output `format`: table or json (the API's answer)")
	watch := fs.Bool("watch", false, "poll until every rollout shown is promoted (exit 0) or rolled back (exit 3)")
	interval := fs.Duration("interval", 2*time.Second, "`time` between two polls with --watch")
	timeout := fs.Duration("timeout", 0, "with --watch, exit 1 when the rollouts are not all done after this `time`; 0 waits for ever")
	base, tokenEnv := adminFlags(fs)
	pos, code, ok := parseInterspersed(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintln(stderr, "cutover rollout status: give at most one ROUTE")
		fs.Usage()
		return exitUsage
	}
	if !formatKnown(fs, *format, "table", "json") {
		return exitUsage
	}
	if *interval <= 0 || *timeout < 0 {
		fmt.Fprintln(stderr, "cutover rollout status: --interval must be above 0 and --timeout not below 0")
		return exitUsage
	}
	route := ""
	if len(pos) == 1 {
		route = pos[0]
	}
	c := newAdminClient(*base, *tokenEnv)
	start := time.Now()
	for {
		rs, raw, err := fetchRollouts(c, route)
		if err != nil {
			fmt.Fprintln(stderr, "cutover rollout:", err)
			return exitError
		}
		if *watch && len(rs) == 0 {
			fmt.Fprintln(stderr, "cutover rollout: no route has a rollout; nothing to watch")
			return exitError
		}
		if *format == "json" {
			if code := printJSON(stdout, raw); code != exitOK {
				return code
			}
		} else {
			now := rolloutClock()
			if *watch {
				fmt.Fprintf(stdout, "--- %s\n", now.Format(time.RFC3339))
			}
			if err := rollout.WriteStatus(stdout, withCohorts(rs), now); err != nil {
				fmt.Fprintln(stderr, "cutover rollout:", err)
				return exitError
			}
		}
		if !*watch {
			return exitOK
		}
		open, rolledBack := rolloutsOpen(rs)
		if len(open) == 0 {
			for _, s := range rolledBack {
				fmt.Fprintf(stderr, "cutover rollout: %s was rolled back: %s\n", s.Route, s.Reason)
			}
			if len(rolledBack) > 0 {
				return exitOverThreshold
			}
			return exitOK
		}
		wait := *interval
		if *timeout > 0 {
			left := *timeout - time.Since(start)
			if left <= 0 {
				fmt.Fprintf(stderr, "cutover rollout: not promoted or rolled back after %s: %s\n", *timeout, strings.Join(open, ", "))
				return exitError
			}
			wait = min(wait, left)
		}
		time.Sleep(wait)
	}
}

// fetchRollouts asks for every rollout (route "") or one, and returns them
// with the API's answer as it came.
// withCohorts names, in the ROUTE cell of a cohort's rollout, the cohort
// and every member that ramps with it: "a (cohort checkout: a, b, c)".
func withCohorts(rs []rollout.Status) []rollout.Status {
	out := slices.Clone(rs)
	for i := range out {
		if s := &out[i]; s.Cohort != "" {
			s.Route = fmt.Sprintf("%s (cohort %s: %s)", s.Route, s.Cohort, strings.Join(s.Members, ", "))
		}
	}
	return out
}

func fetchRollouts(c *adminClient, route string) ([]rollout.Status, json.RawMessage, error) {
	var raw json.RawMessage
	if route != "" {
		path := "/api/rollouts/" + url.PathEscape(route)
		if err := c.get(path, &raw); err != nil {
			return nil, nil, err
		}
		var s rollout.Status
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, nil, fmt.Errorf("%s: unexpected answer: %w", path, err)
		}
		return []rollout.Status{s}, raw, nil
	}
	if err := c.get("/api/rollouts", &raw); err != nil {
		return nil, nil, err
	}
	var all struct {
		Rollouts []rollout.Status `json:"rollouts"`
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, nil, fmt.Errorf("/api/rollouts: unexpected answer: %w", err)
	}
	return all.Rollouts, raw, nil
}

// rolloutsOpen returns the routes of rs neither promoted nor rolled back,
// and the rolled-back rollouts.
func rolloutsOpen(rs []rollout.Status) (open []string, rolledBack []rollout.Status) {
	for _, s := range rs {
		switch s.State {
		case rollout.Promoted:
		case rollout.RolledBack:
			rolledBack = append(rolledBack, s)
		default:
			open = append(open, s.Route)
		}
	}
	return open, rolledBack
}

// rolloutActionAbout says what each action does, for its --help.
var rolloutActionAbout = map[string]string{
	"pause": "Pause ROUTE's rollout: the percent served by new stays where it is and the gate\n" +
		"decides nothing, whatever the readings, until 'cutover rollout resume'.",
	"resume": "Resume ROUTE's rollout: a paused step continues where it was; a holding step\n" +
		"that failed under on_fail: hold starts again with fresh counts; a rolled-back\n" +
		"rollout starts again at its first step.",
	"promote": "Promote ROUTE now: new serves 100% of the route's traffic, skipping the steps\n" +
		"left and their gates.",
	"rollback": "Roll ROUTE back now: new serves 0% (tenants in gray.tenants excepted). --reason\n" +
		"is added to the event's reason, for whoever reads the events later.\n" +
		"'cutover rollout resume' starts the rollout again at its first step.",
}

func cmdRolloutAction(action string, args []string, stdout, stderr io.Writer) int {
	synopsis := "rollout " + action + " ROUTE [--admin URL]"
	if action == "rollback" {
		synopsis = "rollout rollback ROUTE [--reason TEXT] [--admin URL]"
	}
	fs := newFlagSet("rollout "+action, synopsis,
		rolloutActionAbout[action]+"\n\nOn success one line shows the transition, such as\n"+
			"  orders: progressing → paused at step 2 (2%)\n\n"+rolloutActions+"\n\n"+rolloutStates, stderr)
	var reason *string
	if action == "rollback" {
		reason = fs.String("reason", "", "`text` added to the event's reason, such as a ticket or what went wrong")
	}
	base, tokenEnv := adminFlags(fs)
	route, code, ok := oneArg(fs, args, "ROUTE")
	if !ok {
		return code
	}
	path := "/api/rollouts/" + url.PathEscape(route) + "/" + action
	if reason != nil && *reason != "" {
		path += "?" + url.Values{"reason": {*reason}}.Encode()
	}
	var ans struct {
		Rollout rollout.Status `json:"rollout"`
		Event   rollout.Event  `json:"event"`
	}
	if err := newAdminClient(*base, *tokenEnv).post(path, &ans); err != nil {
		fmt.Fprintln(stderr, "cutover rollout:", err)
		return exitError
	}
	e := ans.Event
	if e.Route == "" {
		e.Route = route
	}
	from := ""
	if e.From != "" {
		from = string(e.From) + " → "
	}
	fmt.Fprintf(stdout, "%s: %s%s at step %d (%s)\n", e.Route, from, e.To, e.Step, fmtPercent(e.Percent))
	return exitOK
}

func cmdRolloutEvents(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rollout events", "rollout events ROUTE [--limit 50] [--format table|json] [--admin URL]",
		"List the transitions of ROUTE's rollout, oldest first: when, the step and percent\n"+
			"entered, from which state to which, who moved it (controller: the gate; hand:\n"+
			"the API or this command; config: a start or a reload) and why.\n\n"+
			rolloutStates, stderr)
	limit := fs.Int("limit", 50, "list the newest `N` events; 0 lists every event kept")
	format := fs.String("format", "table", "output `format`: table or json (the API's answer)")
	base, tokenEnv := adminFlags(fs)
	route, code, ok := oneArg(fs, args, "ROUTE")
	if !ok {
		return code
	}
	if !formatKnown(fs, *format, "table", "json") {
		return exitUsage
	}
	if *limit < 0 {
		fmt.Fprintln(stderr, "cutover rollout events: --limit must not be below 0")
		return exitUsage
	}
	path := "/api/rollouts/" + url.PathEscape(route) + "/events?limit=" + strconv.Itoa(*limit)
	var raw json.RawMessage
	if err := newAdminClient(*base, *tokenEnv).get(path, &raw); err != nil {
		fmt.Fprintln(stderr, "cutover rollout:", err)
		return exitError
	}
	if *format == "json" {
		return printJSON(stdout, raw)
	}
	var ans struct {
		Events []rollout.Event `json:"events"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		fmt.Fprintf(stderr, "cutover rollout: %s: unexpected answer: %v\n", path, err)
		return exitError
	}
	if err := rollout.WriteEvents(stdout, ans.Events); err != nil {
		fmt.Fprintln(stderr, "cutover rollout:", err)
		return exitError
	}
	return exitOK
}
