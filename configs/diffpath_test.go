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
