// Package shadow sends copies of requests to the side of a migration
// route that did not serve them, compares the two answers with package
// diff, and keeps the route's comparison statistics and samples.
//
// The gateway answers the client first and only then hands the request,
// copied, to Route.Submit, which never blocks: a job that finds the queue
// full, or the route's queued bytes over MaxQueuedBytes, is dropped and
// counted. A fixed set of workers per route (shadow.concurrency) sends the
// copies, each call bounded by its own deadline (shadow.timeout), through
// upstream clients of its own, so shadow calls never take connections the
// primary traffic needs. A slow or dead shadow side therefore costs the
// primary nothing: its jobs wait in a bounded queue, then are dropped.
//
// What is skipped or dropped is counted by reason:
//
//   - method: the method is not in shadow.methods;
//   - shadow_chain: the request was made by a service answering a shadow
//     copy (its tracestate carries cutover=shadow), so it is not copied
//     again;
//   - body_too_large: the request or an answer is over shadow.max_body;
//   - primary_failed: the serving side gave no answer to compare with;
//   - queue_full: the queue was full;
//   - timeout: the shadow call passed its deadline;
//   - error: the shadow call failed otherwise.
//
// The copies carry X-Cutover-Shadow: 1, the request's chain ID with a
// child span, and cutover=shadow in tracestate, so services behind can keep
// shadow writes out of their data. With a secondary (a second instance of
// old), a share of the shadowed requests gets a third copy: comparing old
// with old measures the noise that package diff then cancels.
//
// Compared pairs that enter a field's sample reservoir are stored, redacted
// by the recording rules, and what a route counted is added to the store's
// tallies every FlushInterval, where reports read it (stats.go).
package shadow
