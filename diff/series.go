package diff

import (
	"errors"
	"fmt"
	"time"
)

// SeriesPoint is a route's figures over one step of a series: the pairs
// compared and differing in it and the p99 latencies of both sides. T is
// the step's start.
type SeriesPoint struct {
	T          time.Time
	Compared   uint64
	Differing  uint64
	NoisePairs uint64
	OldP99     float64 // milliseconds, within 2%; 0 without a pair
	NewP99     float64
}

// ErrSeriesStep is returned by Series for a step it cannot honour.
var ErrSeriesStep = errors.New("diff: series step must be a positive multiple of " + WindowBucket.String())

// Series returns the window of the last since before now (0 < since ≤
// MaxWindow, rounded to whole buckets as Report rounds it) as points of
// step each (a multiple of WindowBucket), oldest first, one point per
// step even when nothing was compared in it. A step's points start at
// multiples of step since the Unix epoch, so the first and last points may
// cover part of a step only.
//
// A pair differs under the noise classification of the whole window, the
// one Report(now, since) applies: a point never changes its mind about a
// path because few noise pairs fell in its own 10 seconds.
func (a *Aggregator) Series(now time.Time, since, step time.Duration) ([]SeriesPoint, error) {
	if since <= 0 || since > MaxWindow {
		return nil, fmt.Errorf("%w, not %v", ErrWindow, since)
	}
	if step < WindowBucket || step%WindowBucket != 0 {
		return nil, fmt.Errorf("%w, not %v", ErrSeriesStep, step)
	}
	per := int64(step / WindowBucket)
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.c
	lo, hi := windowEpochs(now, since)
	first := floorDiv(lo, per)
	points := make([]SeriesPoint, floorDiv(hi, per)-first+1)
	for i := range points {
		points[i].T = time.Unix(0, (first+int64(i))*per*int64(WindowBucket)).UTC()
	}

	// The window's rates decide what is noise, as in Report.
	var compared, noisePairs uint64
	fields := make([]uint64, len(c.fields))
	noise := make([]uint64, len(c.fields))
	groups := make([][]*bucket, len(points))
	for _, b := range c.ring {
		if b == nil || !b.used || b.epoch < lo || b.epoch > hi {
			continue
		}
		compared += b.compared
		noisePairs += b.noisePairs
		for _, e := range b.fields.ent {
			fields[e.id] += e.n
		}
		for _, e := range b.noise.ent {
			noise[e.id] += e.n
		}
		i := floorDiv(b.epoch, per) - first
		groups[i] = append(groups[i], b)
	}
	realSig := make([]bool, len(c.sigs))
	for sid := range c.sigs {
		for _, id := range c.sigs[sid].fields {
			if !a.opt.Noise.IsNoise(ratio(fields[id], compared), ratio(noise[id], noisePairs), noisePairs) {
				realSig[sid] = true
				break
			}
		}
	}

	for i, g := range groups {
		p := &points[i]
		var oldLat, newLat histogram
		for _, b := range g {
			p.Compared += b.compared
			p.NoisePairs += b.noisePairs
			p.Differing += b.overflow
			for _, e := range b.sigs.ent {
				if realSig[e.id] {
					p.Differing += e.n
				}
			}
			if len(g) == 1 {
				p.OldP99, p.NewP99 = b.oldLat.quantileMs(0.99), b.newLat.quantileMs(0.99)
				continue
			}
			oldLat.merge(&b.oldLat)
			newLat.merge(&b.newLat)
		}
		if len(g) > 1 {
			p.OldP99, p.NewP99 = oldLat.quantileMs(0.99), newLat.quantileMs(0.99)
		}
	}
	return points, nil
}
