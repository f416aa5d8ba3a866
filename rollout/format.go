package rollout

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/cutover/cutover/diff"
)

// TextWidth is the width WriteStatus wraps its reason and waiting-for
// lines at, in runes.
const TextWidth = 100

// WriteStatus writes rollouts as a human table for `cutover rollout
// status`: a header, then per rollout one row (route, state, step of steps,
// percent served by new, time in the state as now − Since) followed by the
// gate's readings from its Checks:
//
//   - a line with the step's samples, time and noise baseline (the checks
//     samples, duration and noise_baseline);
//   - one line per rate (diff_rate, error_rate) with its reading, the
//     Wilson bound that decides it (the upper one, or the lower one when it
//     fails), the limit and the check's status; one for p99_ratio with both
//     p99s, and one for block_kinds with the kinds;
//   - any check of another name as its Detail and status;
//   - "reason:" for a holding, paused or rolled_back rollout that has one,
//     and "waiting for:" unless it is promoted or rolled back.
//
// Rates are percentages with up to two decimals, durations are rounded to
// seconds, and text lines are wrapped at TextWidth. The output depends on
// rs and now only, so it can be compared exactly.
func WriteStatus(w io.Writer, rs []Status, now time.Time) error {
	if len(rs) == 0 {
		_, err := io.WriteString(w, "no rollouts: no route has a rollout block\n")
		return err
	}
	var buf bytes.Buffer
	head := [5]string{"ROUTE", "STATE", "STEP", "PERCENT", "FOR"}
	rows := make([][5]string, len(rs))
	widths := [4]int{len(head[0]), len(RolledBack), len(head[2]), len(head[3])}
	for i := range rs {
		s := &rs[i]
		rows[i] = [5]string{s.Route, string(s.State), fmt.Sprintf("%d/%d", s.Step, len(s.Steps)), fmtPercent(s.Percent), sinceText(s.Since, now)}
		for j := range widths {
			widths[j] = max(widths[j], utf8.RuneCountInString(rows[i][j]))
		}
	}
	writeRow := func(cells [5]string) {
		for j, c := range cells[:4] {
			buf.WriteString(c)
			buf.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c)+2))
		}
		buf.WriteString(cells[4])
		buf.WriteByte('\n')
	}
	writeRow(head)
	for i := range rs {
		if i > 0 {
			buf.WriteByte('\n')
		}
		writeRow(rows[i])
		if err := writeReadings(&buf, &rs[i]); err != nil {
			return err
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// writeReadings writes the lines under a rollout's row.
func writeReadings(buf *bytes.Buffer, s *Status) error {
	terminal := s.State == Promoted || s.State == RolledBack
	var summary []string
	var rates, others []Check
	for _, c := range s.Checks {
		switch c.Name {
		case "samples":
			summary = append(summary, "compared "+countText(c.Value)+reachedText(c)+countText(c.Limit))
		case "duration":
			summary = append(summary, "time "+durationText(secondsDuration(c.Value))+reachedText(c)+durationText(secondsDuration(c.Limit)))
		case "noise_baseline":
			if c.Status == CheckPass {
				summary = append(summary, "noise baseline "+countText(c.Value)+" pairs")
			} else {
				summary = append(summary, "noise baseline "+countText(c.Value)+" of "+countText(c.Limit)+" pairs")
			}
		case "diff_rate", "error_rate", "p99_ratio", "block_kinds":
			rates = append(rates, c)
		default:
			others = append(others, c)
		}
	}
	if len(s.Checks) == 0 && !terminal {
		buf.WriteString("  no readings yet\n")
	}
	if len(summary) > 0 {
		writeWrapped(buf, "  ", strings.Join(summary, " · "))
	}
	if len(rates) > 0 {
		var tb bytes.Buffer
		tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', 0)
		for _, c := range rates {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", checkLabel(c.Name), rateReading(c), rateBound(c, s), "limit "+limitText(c), c.Status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		buf.Write(trimLines(tb.Bytes()))
	}
	for _, c := range others {
		writeWrapped(buf, "  "+checkLabel(c.Name)+": ", c.Detail+" ("+c.Status+")")
	}
	if s.Reason != "" && (s.State == Holding || s.State == Paused || s.State == RolledBack) {
		writeWrapped(buf, "  reason: ", s.Reason)
	}
	if s.WaitingFor != "" && !terminal && s.WaitingFor != s.Reason {
		writeWrapped(buf, "  waiting for: ", s.WaitingFor)
	}
	switch {
	case s.Leading == nil:
	case *s.Leading:
		buf.WriteString("  decided by this replica, which holds the lease\n")
	default:
		buf.WriteString("  followed: another replica holds the lease and decides\n")
	}
	return nil
}

// reachedText joins a count or a time to what its check needs: " ≥ " once
// it passes, " of " while it waits.
func reachedText(c Check) string {
	if c.Status == CheckPass {
		return " ≥ "
	}
	return " of "
}

// checkLabel turns a check's name into words: "diff_rate" → "diff rate".
func checkLabel(name string) string { return strings.ReplaceAll(name, "_", " ") }

// rateReading is a check's value, with what it counted for a rate.
func rateReading(c Check) string {
	switch c.Name {
	case "p99_ratio":
		return fmt.Sprintf("%.2f", c.Value)
	case "block_kinds":
		return countText(c.Value)
	}
	return fmt.Sprintf("%s (%d/%d)", diff.FormatRate(c.Value), c.Count, c.N)
}

// rateBound is what decides a check: for a rate, the bound of its Wilson
// interval that matters (the lower one when it fails, else the upper one);
// for p99_ratio, the two p99s, and how many of new's answers were slower
// than the limit allows when that fails it; for block_kinds, the kinds.
func rateBound(c Check, s *Status) string {
	switch c.Name {
	case "block_kinds":
		return "kinds " + strings.Join(s.Limits.BlockKinds, ", ")
	case "p99_ratio":
		p99s := fmt.Sprintf("old %s, new %s", diff.FormatMs(s.Counts.OldP99), diff.FormatMs(s.Counts.NewP99))
		if c.Status == CheckFail {
			p99s += fmt.Sprintf("; slow %d/%d", c.Count, c.N)
		}
		return p99s
	}
	if c.Status == CheckFail {
		return "lower " + diff.FormatRate(c.Lower)
	}
	return "upper " + diff.FormatRate(c.Upper)
}

func limitText(c Check) string {
	switch c.Name {
	case "p99_ratio":
		return fmt.Sprintf("%.2f", c.Limit)
	case "block_kinds":
		return countText(c.Limit)
	}
	return diff.FormatRate(c.Limit)
}

// WriteEvents writes events one line each, after a header: the time
// (RFC 3339, UTC), the step and percent entered, from → to ("start" for a
// rollout's first event), who moved it and why.
func WriteEvents(w io.Writer, evs []Event) error {
	if len(evs) == 0 {
		_, err := io.WriteString(w, "no events\n")
		return err
	}
	var tb bytes.Buffer
	tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSTEP\tPERCENT\tTRANSITION\tBY\tREASON")
	for _, e := range evs {
		from := string(e.From)
		if from == "" {
			from = "start"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s → %s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Step, fmtPercent(e.Percent), from, e.To, e.By, oneLine(e.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(trimLines(tb.Bytes()))
	return err
}

// countText formats a count carried in a float.
func countText(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', -1, 64) }

func secondsDuration(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// sinceText is the time from since to now, "-" when since is unset.
func sinceText(since, now time.Time) string {
	if since.IsZero() {
		return "-"
	}
	return durationText(now.Sub(since))
}

// durationText rounds d to seconds and writes it without zero parts:
// "1m20s", "10m", "2h5s", "0s". A negative d (clock skew) is 0s.
func durationText(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.unit)
			d -= n * u.d
		}
	}
	return b.String()
}

// writeWrapped writes prefix and text, wrapping text at TextWidth with the
// continuation lines indented as far as the text starts.
func writeWrapped(buf *bytes.Buffer, prefix, text string) {
	indent := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	buf.WriteString(prefix)
	col := utf8.RuneCountInString(prefix)
	first := true
	for _, word := range strings.Fields(text) {
		n := utf8.RuneCountInString(word)
		if !first && col+1+n > TextWidth {
			buf.WriteByte('\n')
			buf.WriteString(indent)
			col = len(indent)
			first = true
		}
		if !first {
			buf.WriteByte(' ')
			col++
		}
		buf.WriteString(word)
		col += n
		first = false
	}
	buf.WriteByte('\n')
}

// oneLine folds line breaks into spaces, so that an event stays one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// trimLines removes the trailing spaces tabwriter leaves after empty cells.
func trimLines(b []byte) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	out := b[:0:0]
	for _, l := range lines {
		nl := bytes.HasSuffix(l, []byte("\n"))
		l = bytes.TrimRight(l, " \n")
		out = append(out, l...)
		if nl {
			out = append(out, '\n')
		}
	}
	return out
}
