// Package replay sends recorded calls again, to a target and optionally a
// baseline, and compares the target's answers with the recorded ones; it
// also exports recorded calls as HAR 1.2 or JSON lines.
//
// Who calls whom: the cutover replay and export commands open a Source (a
// gateway's admin API, a store file, or a HAR file), then run a Runner or
// write an export. A Runner sends each call through package upstream,
// compares with package diff under the route's rules, and adds the pairs to
// one diff.Aggregator per route, so its report is the report of a live
// gateway. With a baseline, the recording and the baseline's answer form
// the old/secondary pair that measures noise, as a shadow secondary does.
//
// Order and memory: sources yield the serving calls (never shadow copies),
// oldest first. The store and the admin API page newest first, so a Source
// walks the pages twice: once to count the calls and note where each page
// starts, then page by page from the oldest. It holds one page at a time,
// and the Runner holds at most Options.MaxInFlightBytes of calls in
// flight, whatever the number of records.
//
// Marking: every replayed call carries X-Cutover-Replay: 1, cutover=replay
// first in tracestate, and a new span under the recorded call's span in
// its chain (the chain header and W3C traceparent), so services can keep
// its writes apart and a gateway in front of the target neither records
// nor shadows it.
package replay
