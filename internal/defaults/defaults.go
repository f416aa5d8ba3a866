// Package defaults applies cutover's "zero means default" rule to option
// structs, in the one constructor that takes them:
//
//	opt.QueueSize = defaults.Positive(opt.QueueSize, DefaultQueueSize)
package defaults

// Positive returns v when it is above zero, else def: an option left at
// zero, or set below it, takes its default.
func Positive[T ~int | ~int64 | ~float64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
