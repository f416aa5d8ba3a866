package router

import (
	"bytes"
	"strings"

	"github.com/cutover/cutover/message"
)

// W3C baggage limits (https://www.w3.org/TR/baggage/#limits): a
// propagator must carry at least this many members and bytes, and
// cutover never writes more.
const (
	MaxBaggageBytes   = 8192
	MaxBaggageMembers = 180
)

// CohortBaggagePrefix starts the baggage key that carries a cohort's side:
// cutover.cohort.<name>=old|new.
const CohortBaggagePrefix = "cutover.cohort."

// Baggage says what a request's baggage header held for a cohort route.
type Baggage uint8

// Baggage states. Malformed and oversized headers are ignored for the
// decision, and never fail the request.
const (
	BaggageNone      Baggage = iota // no baggage header, or no member for the cohort
	BaggageFound                    // a valid member cutover.cohort.<name>=old|new
	BaggageMalformed                // not a W3C baggage list, or a bad cohort value
	BaggageOversized                // above MaxBaggageBytes or MaxBaggageMembers
)

var baggageNames = [...]string{"none", "found", "malformed", "oversized"}

// String returns the state's name, as the metrics label it.
func (b Baggage) String() string { return baggageNames[b] }

// baggageMember is one list-member of a baggage header, OWS trimmed.
type baggageMember struct {
	key, value, whole []byte // value without properties; whole with them
}

// nextBaggageMember cuts the first list-member off b. ok is false for a
// malformed member; an empty member (",,") gives an empty whole.
func nextBaggageMember(b []byte) (m baggageMember, rest []byte, ok bool) {
	item := b
	if i := bytes.IndexByte(b, ','); i >= 0 {
		item, rest = b[:i], b[i+1:]
	}
	item = message.TrimOWS(item)
	if len(item) == 0 {
		return baggageMember{}, rest, true
	}
	m.whole = item
	kv := item
	if i := bytes.IndexByte(item, ';'); i >= 0 {
		kv = item[:i]
		if !validProperties(item[i+1:]) {
			return m, rest, false
		}
	}
	eq := bytes.IndexByte(kv, '=')
	if eq < 0 {
		return m, rest, false
	}
	m.key, m.value = message.TrimOWS(kv[:eq]), message.TrimOWS(kv[eq+1:])
	if !isBaggageToken(m.key) || !isBaggageValue(m.value) {
		return m, rest, false
	}
	return m, rest, true
}

// validProperties checks "; "-separated properties: key or key=value.
func validProperties(p []byte) bool {
	for len(p) > 0 {
		prop := p
		if i := bytes.IndexByte(p, ';'); i >= 0 {
			prop, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		prop = message.TrimOWS(prop)
		k, v, hasValue := bytes.Cut(prop, []byte{'='})
		if !isBaggageToken(message.TrimOWS(k)) || hasValue && !isBaggageValue(message.TrimOWS(v)) {
			return false
		}
	}
	return true
}

// checkBaggage reports whether b is a W3C baggage list within the limits.
func checkBaggage(b []byte) Baggage {
	if len(b) > MaxBaggageBytes {
		return BaggageOversized
	}
	members := 0
	for rest := b; len(rest) > 0; {
		var m baggageMember
		var ok bool
		m, rest, ok = nextBaggageMember(rest)
		if !ok {
			return BaggageMalformed
		}
		if len(m.whole) > 0 {
			members++
		}
	}
	if members > MaxBaggageMembers {
		return BaggageOversized
	}
	return BaggageNone
}

// CohortSide reads the side the baggage header b carries for cohort: the
// first member cutover.cohort.<cohort>. A malformed or oversized header is
// ignored whole, as is a cohort member whose value is neither old nor new.
// It reads b once and allocates nothing.
func CohortSide(b []byte, cohort string) (Side, Baggage) {
	if len(b) == 0 {
		return SideOld, BaggageNone
	}
	if len(b) > MaxBaggageBytes {
		return SideOld, BaggageOversized
	}
	side, state, members := SideOld, BaggageNone, 0
	for rest := b; len(rest) > 0; {
		m, r, ok := nextBaggageMember(rest)
		rest = r
		switch {
		case !ok:
			return SideOld, BaggageMalformed
		case len(m.whole) == 0:
			continue
		}
		if members++; members > MaxBaggageMembers {
			return SideOld, BaggageOversized
		}
		if state != BaggageNone || !isCohortKey(m.key, cohort) {
			continue
		}
		switch string(m.value) {
		case "new":
			side, state = SideNew, BaggageFound
		case "old":
			state = BaggageFound
		default:
			state = BaggageMalformed
		}
	}
	if state == BaggageMalformed {
		side = SideOld
	}
	return side, state
}

// AppendBaggage appends to dst the baggage a hop of cohort served by side
// sends upstream: its own member cutover.cohort.<cohort>=old|new first,
// then every other member of the incoming header in, in order and byte
// for byte, as many as fit the W3C limits. An incoming header that is
// malformed or oversized is not carried on (a W3C propagator drops it
// whole too). dropped counts the incoming members left out, one for a
// header dropped whole. It reads in once and allocates nothing beyond
// growing dst.
func AppendBaggage(dst, in []byte, cohort string, side Side) (out []byte, dropped int) {
	start := len(dst)
	dst = append(dst, CohortBaggagePrefix...)
	dst = append(dst, cohort...)
	dst = append(dst, '=')
	dst = append(dst, side.String()...)
	if len(in) == 0 {
		return dst, 0
	}
	own := len(dst)
	if len(in) > MaxBaggageBytes {
		return dst, 1
	}
	written, received := 1, 0
	for rest := in; len(rest) > 0; {
		m, r, ok := nextBaggageMember(rest)
		rest = r
		switch {
		case !ok:
			return dst[:own], 1
		case len(m.whole) == 0:
			continue
		}
		if received++; received > MaxBaggageMembers {
			return dst[:own], 1
		}
		if isCohortKey(m.key, cohort) {
			continue
		}
		if written == MaxBaggageMembers || len(dst)-start+1+len(m.whole) > MaxBaggageBytes {
			dropped++
			continue
		}
		dst = append(dst, ',')
		dst = append(dst, m.whole...)
		written++
	}
	return dst, dropped
}

func isCohortKey(key []byte, cohort string) bool {
	return len(key) == len(CohortBaggagePrefix)+len(cohort) &&
		string(key[:len(CohortBaggagePrefix)]) == CohortBaggagePrefix &&
		string(key[len(CohortBaggagePrefix):]) == cohort
}

// baggageToken and baggageOctet mark the bytes of an RFC 7230 token (a
// baggage key) and of a W3C baggage-octet (printable US-ASCII without
// space, '"', ',', ';' and '\\'): a table lookup per byte keeps the parse
// cheap enough for every hop.
var baggageToken, baggageOctet = func() (tok, oct [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		tok[c] = !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(c))
		oct[c] = !strings.ContainsRune("\",;\\", rune(c))
	}
	return tok, oct
}()

// isBaggageToken checks an RFC 7230 token, the W3C baggage key.
func isBaggageToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !baggageToken[c] {
			return false
		}
	}
	return true
}

// isBaggageValue checks baggage-octets; an empty value is allowed.
func isBaggageValue(b []byte) bool {
	for _, c := range b {
		if !baggageOctet[c] {
			return false
		}
	}
	return true
}
