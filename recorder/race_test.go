//go:build race

package recorder

// raceEnabled is set under the race detector, whose sync.Pool drops items
// on purpose, so allocation counts are not meaningful there.
const raceEnabled = true
