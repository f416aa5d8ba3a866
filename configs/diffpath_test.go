package configs

import (
	"testing"

	"github.com/cutover/cutover/diff"
)

// TestDiffPathsAgree: a path `cutover check` accepts is one the comparer
// compiles, so a valid file never fails at start with no line to show.
func TestDiffPathsAgree(t *testing.T) {
	for _, p := range []string{`a\.b`, `a.#`, `a#b`, `@x`, `a|b`, `a.b.`, `\#`, `a\`, `a\\`, `items.#.x`, `x.#.#`, `a..b`, `#.a`, `a b`, `a*`, `a?`, `#x`, `a.\#b`, `a.b#`} {
		if checkDiffPath(p) == "" && diff.CheckPath(p) != nil {
			t.Errorf("%q: config accepts it, the comparer refuses it: %v", p, diff.CheckPath(p))
		}
	}
}

// TestDiffKindsAgree: block_kinds accepts exactly the kinds the comparer
// reports, so a kind cutover check accepts always blocks something.
func TestDiffKindsAgree(t *testing.T) {
	if len(DiffKinds) != len(diff.Kinds) {
		t.Fatalf("configs lists %d kinds, diff %d", len(DiffKinds), len(diff.Kinds))
	}
	for i, k := range diff.Kinds {
		if DiffKinds[i] != k.String() {
			t.Errorf("kind %d: configs %q, diff %q", i, DiffKinds[i], k)
		}
	}
}
