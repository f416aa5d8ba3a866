// Package diff compares an old and a new response under a route's rules
// (Compare), and aggregates the differences into noise-cancelled reports.
// It does no I/O.
//
// # How statistics flow
//
// An Aggregator counts a route's pairs in memory (Add on the shadow
// workers, AddNoise for old/secondary pairs). Its one persistent form is
// additive: Take hands out what it counted since the last Take as a Delta
// of named counts (Counts, counts.go), window buckets apart, and a store
// sums such deltas name by name — one gateway's or many replicas'.
// NewAggregatorFrom turns the sums back into an aggregator, whose Report
// answers as if it had added every pair itself. Sample references travel
// as text (SampleRef.String, Delta.RecentLists, SampleRefs), and so do the
// fields' examples, under their own list names. So the statistics of one
// gateway are the one-replica case of many; packages shadow and rollout do
// the writing and reading (see package store).
//
// Every count a report gives comes from one classification: pairs are
// counted by signature (the set of (path, kind)s they differed in) for the
// route and for each tenant, the report decides once which fields are
// noise, and a pair differs when its signature holds a field that is not
// (see Aggregator). Likely noise (likely.go) is judged from counts of
// generated-looking values, kept per field and class like any count.
//
// # Comparing two responses
//
// Compile validates a route's Rules once; a Comparer (one per goroutine)
// compares pairs with them:
//
//	rules, err := diff.Compile(diff.Rules{Ignore: []string{"meta.requestId"}})
//	c := diff.NewComparer()
//	dst = c.Compare(&oldResp, &newResp, rules, dst)
//
// Compare reports each (path, kind) at most once, sorted by path and then
// kind (in the order of Kinds), at most MaxDifferences of them: the walk
// stops when that many are found, so a pair that differs in more places
// reports the first ones found. Nil rules compare strictly.
//
// Status first: different codes are one {StatusPath(old, new), status}
// ("200→503"), and nothing else is compared — an error page against a
// document is one event, not every field of both. Equal codes, errors
// included, go on to the headers and bodies.
//
// Headers: only the headers listed in Rules.Headers are compared. For each,
// the values of every line with that name (ASCII case-insensitive), trimmed
// of spaces and tabs, are joined with ", " and compared exactly; a header
// present on one side only (even with an empty value) differs. The path is
// the canonical name ("Content-Type"). Response.Headers is the raw block
// "Name: value\r\n…", read by the rules of package message: LF-only
// lines, a missing final line end and lines without a colon are
// tolerated, a folded line continues its field. Ignore rules never apply
// to headers.
//
// Content-Encoding: a body is decoded before comparing, each side on its
// own, by its Content-Encoding list (all its lines joined, the codings
// undone last first) as package message decodes it: gzip, x-gzip, deflate
// (zlib, or raw DEFLATE when the first bytes are not a zlib header) and
// identity, up to MaxDecoded (8 MiB) decoded bytes. The recorder reads
// the same list, so a stored sample shows the bytes that were compared. A
// body that fails to decode (bad header, bad checksum, trailing garbage)
// or decodes to more is compared as its raw bytes, and so is one whose
// list names br or another coding that is not decoded. When both sides
// name the same codings and carry the same bytes, nothing is decoded.
//
// Body, in this order: byte-identical (decoded) bodies are equal; bodies
// that are both empty or JSON whitespace only (space, tab, CR, LF) are
// equal; bodies that are both one valid JSON value (after trimming that
// whitespace) are compared structurally; anything else (JSON against non-JSON, two different
// non-JSON bodies, invalid JSON) is {"", body}.
//
// # Structural JSON comparison
//
// Paths are dotted object keys with every array index written "#"
// ("items.#.price"); the root is "". Keys are unescaped JSON strings
// ("k\u0041" is the key "kA"), and a '.', '#', '\', '*' or '?' in a key is
// escaped with a backslash in the path, as in gjson ("a\.b", "\#").
// Object key order never matters.
//
//   - A key only in old is {key's path, missing}; only in new, extra. A null
//     value counts as present: {"a":null} against {} is missing "a", unless
//     NullEqualsMissing, which makes a null-valued key and an absent one
//     equal (only for object members; a null array element is an element).
//   - Duplicate keys in one object are matched in order: the k-th "a" of old
//     with the k-th "a" of new.
//   - Different JSON types (string, number, bool, null, object, array; true
//     and false are both bool) are type; the same type with another value is
//     value.
//   - Strings compare unescaped ("\u0041" equals "A").
//   - Numbers: two integer literals (no '.', 'e' or 'E') compare exactly as
//     decimal integers of any size (-0 equals 0); any other pair compares
//     by float64 value (1.0 == 1, 1e2 == 100, and a literal beyond float64
//     range is ±Inf). With FloatEpsilon e > 0, numbers a and b that are not
//     equal so are still equal when |a−b| ≤ e or |a−b| ≤ e·max(|a|,|b|),
//     integers included (by their float64 values).
//   - NumericStrings: a string whose whole content is a JSON number (no
//     spaces, no '+', no leading zeros) is compared as that number against a
//     number, in either direction: unequal values are value, and a
//     non-numeric string against a number stays type. Two strings still
//     compare as strings ("1" vs "1.0" is value).
//   - TimeTolerance t > 0: two strings that both parse as time.RFC3339Nano
//     are equal when at most t apart (offsets respected).
//   - Nesting deeper than 1000 (the root is depth 1) is not walked: two
//     different containers there are one {"", body}. A body nesting deeper
//     than 10000 is not parsed at all and compares as bytes.
//
// Arrays are ordered unless an unordered rule names them:
//
//   - Ordered, different lengths: {array, length}, and the common prefix is
//     compared index by index (differences at "array.#…").
//   - Ordered, same length: compared index by index; when that finds
//     differences but the arrays are equal as multisets (every old element
//     matched to a distinct new element it does not differ from), those
//     differences are replaced by one {array, order}. A one-element array
//     has no other order.
//   - Unordered (a multiset): each old element, in order, is matched to the
//     first unused new element, in index order, that it does not differ
//     from under the rules (ignore rules inside elements included). The
//     unmatched old and new elements are paired in order and compared
//     deeply at "array.#…"; differing lengths add {array, length}. Order is
//     never reported. The matching is greedy: with rules whose equality is
//     not transitive (epsilon, time tolerance, numeric strings) it can miss
//     a complete matching that exists.
//   - Unordered with Key: elements that are objects with the key field are
//     matched on the raw JSON of its value ("1" and 1 are different keys;
//     the k-th old element with a key value to the k-th new one). Unmatched
//     keyed old elements are {"array.#", missing}, unmatched new ones
//     {"array.#", extra}; matched pairs are compared deeply. Elements without
//     the key are matched as a multiset among themselves; their leftovers
//     are paired in order and compared, and those left without a partner
//     are {"array.#", missing} or extra. Key mode never reports length.
//
// # Rules paths
//
// Ignore and unordered paths use the path syntax above: "meta.requestId",
// "items.#.updatedAt", "a\.b" for the key "a.b", "\#" for the key "#". A
// path of one key ("updatedAt", "a\.b") is a bare name: it matches a key of
// that name at any depth, and its subtree; an unordered bare name makes
// every array under a key of that name unordered. Other paths are anchored
// at the root; a rule segment "#" matches any array index. "#" alone is
// anchored (the root array's elements). The root itself cannot be named,
// so a top-level array cannot be unordered (its elements can, with "#").
// CheckPath rejects empty paths and segments, a trailing lone backslash,
// and gjson wildcards, queries and modifiers ("*", "?", "|", "#" inside a
// segment, "@" at a segment's start): escape them to mean a literal key.
// A difference at an ignored path or below it is dropped; the walk skips
// ignored subtrees. Ignoring "items.#" drops everything inside the
// elements (missing and extra elements of a keyed array too) but not
// {items, length}. An unordered key is one field name. An array named both
// by an anchored rule and by a bare name follows the anchored one.
//
// # Cost and bounds
//
// Compare allocates nothing for byte-identical or equivalent pairs, nor
// for differing pairs once their paths are interned: paths are built in a
// byte stack and turned into strings only for a (path, kind) not yet
// reported, interned in the Comparer (up to 4096 paths of at most 256
// bytes; the table is emptied when full). Decoders and decode buffers are
// reused; buffers over 1 MiB are dropped after the call. No reference to
// dst is kept after Compare returns; Values, the raw values found at each
// difference, are views of the responses' bodies (or of the comparer's
// decode buffers) until the next Compare.
//
// Objects with more than 16 members and keyed arrays with more than 16
// keyed elements are sorted for lookup. Unordered arrays with more than 64
// element pairs are matched by hash bucket: a hash that is equal for any
// two values that do not differ under the rules (numbers hash alike under
// an epsilon, RFC 3339-looking strings alike under a time tolerance), so
// only elements of one bucket are compared, with the same result as
// comparing every pair. One array's matching stops after 131072 element
// comparisons (the still unmatched are paired in order), and a walk that
// has scanned more than 64 MiB plus 32 times the bodies' length (deep
// nesting times many arrays) stops with {"", body}.
//
// # Why a gjson walk and not jsondiff
//
// github.com/wI2L/jsondiff (the library DESIGN.md names) decodes both
// documents into map[string]any trees and emits an RFC 6902 patch. It has
// no notion of epsilon, numeric strings, time tolerance, keyed or multiset
// arrays, null-equals-missing or bare-name ignores, it reports array
// indices that would have to be rewritten to "#", loses integers beyond
// 2^53 in float64, and allocates for every value. Walking the raw bytes
// with gjson (already a dependency) compares values in place, applies the
// rules during the walk (skipping ignored subtrees, short-cutting
// byte-equal subtrees) and allocates nothing. On the same realistic 1 KiB
// order pair with six differences of five kinds (compare_bench_test.go;
// 2-core AMD EPYC, go1.26, figures vary ±15% run to run on this shared
// machine):
//
//	BenchmarkCompareIdentical1KiB        220 ns/op   0 allocs/op   ~4,500,000 pairs/s
//	BenchmarkCompareEquivalent1KiB    11,500 ns/op   0 allocs/op      ~85,000 pairs/s  (keys reordered at every level)
//	BenchmarkCompareDiffering1KiB      8,400 ns/op   0 allocs/op     ~115,000 pairs/s  (with the route rules)
//	BenchmarkCompareDifferingStrict   11,000 ns/op   0 allocs/op      ~90,000 pairs/s  (no rules)
//	BenchmarkCompareGzipDiffering1KiB 25,000 ns/op   0 allocs/op      ~40,000 pairs/s  (both sides gzip)
//	BenchmarkJSONDiffLibrary          43,000 ns/op 455 allocs/op      ~23,000 pairs/s  (17 KiB/op, one ignore)
//
// so the walk is about 5 times faster than jsondiff on a differing pair and
// produces no garbage, against targets of 100,000 identical and 20,000
// differing pairs per second per core. The cost of the walk is gjson
// re-scanning a container each time it is entered (O(size × depth)); the
// work budget above bounds the pathological cases.
package diff
