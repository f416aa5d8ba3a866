// Package shadow sends copies of requests to the side of a migration
// route that did not serve them, compares the two answers with package
// diff, and keeps the route's comparison statistics and samples.
//
// Who calls whom: the gateway builds each configuration's shadowing with
// Mirror.Build (Build.Route per route, Build.Commit once the whole
// configuration compiled) and, after answering a client, offers the
// request to its route's Compiled.Offer; that is all it does. Package
// shadow decides what to copy and what to skip, tags the copies, sends
// them through package upstream, compares the answers with package diff,
// and logs its own failed calls, throttled. It calls nothing back in the
// gateway; the rollout controller sees the comparisons through a route's
// Observer.
//
// Offer only copies, and Route.Submit never blocks: a job that finds the
// queue full, or that does not fit the memory budget (memory.async, shared
// with the recorder), is dropped and counted. A job's bytes are charged
// to the budget from Submit until its worker is done with it, and samples
// a failed flush keeps for the next one are charged while they wait. A fixed set of workers per route (shadow.concurrency) sends
// the copies, each call bounded by its own deadline (shadow.timeout),
// through an upstream pool of the mirror's own: shadow calls never take
// connections the primary traffic needs (each shadow client holds at most
// shadow.concurrency connections and reads at most shadow.max_body), and a
// shadow target that refuses connections is skipped for its fail_timeout
// without ever being marked down for the primary. When every target of
// the shadow side is down, the copy is skipped unsent and counted as
// error. A slow or dead shadow side therefore costs the primary nothing:
// its jobs wait in a bounded queue, then are dropped.
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
//   - budget: the copy did not fit the memory budget;
//   - timeout: the shadow call passed its deadline;
//   - error: the shadow call failed otherwise, or every target of the
//     shadow side was down.
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
