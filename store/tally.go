package store

import (
	"slices"
	"time"
)

// Tallies are counters that every gateway replica on a store adds to —
// a route's diff statistics, the counts of a rollout's step — each with
// short lists of its newest items (sample references). Both drivers keep
// them under one contract: Redis for every replica that names it
// (redis_tally.go), the embedded store for its one gateway
// (bolt_tally.go). AddTallies applies each add whole and says how many
// of its adds were applied; Tallies reads them back; a tally whose TTL
// passed reads as empty.

// TallyAdd adds to one tally.
type TallyAdd struct {
	Key    string           // the tally's name, e.g. "diff:prices" or "step:prices:7"
	Counts map[string]int64 // counter name → increment (names are arbitrary binary strings)
	// Recent maps a list name to the items to add to it, oldest first; each
	// list keeps its newest Keep items (Keep <= 0: the items are dropped).
	Recent map[string][]string
	Keep   int
	// TTL is the expiry of the tally, renewed by every add: its counts,
	// its set of list names and the lists this add touches (a list that no
	// add touched for TTL expires with its items, while the counts live
	// on). 0: no expiry set.
	TTL time.Duration
}

// Merge adds older, an add to the same tally that failed and is retried,
// into a, which was made after it: counts add up and older's items go
// before a's.
func (a *TallyAdd) Merge(older *TallyAdd) {
	if len(older.Counts) > 0 && a.Counts == nil {
		a.Counts = make(map[string]int64, len(older.Counts))
	}
	for k, v := range older.Counts {
		a.Counts[k] += v
	}
	if len(older.Recent) > 0 && a.Recent == nil {
		a.Recent = make(map[string][]string, len(older.Recent))
	}
	for k, items := range older.Recent {
		a.Recent[k] = append(slices.Clone(items), a.Recent[k]...)
	}
}

// Tally is one tally as read back.
type Tally struct {
	Counts map[string]int64    // empty non-nil map when the tally does not exist
	Recent map[string][]string // newest first; empty non-nil map when there is none
}
