// Package upstream is cutover's one upstream pool: the services of a
// configuration, each a set of targets used round robin with passive
// health checking, and the keep-alive clients that carry the calls.
//
// Who calls whom: package gateway builds the proxy's services from the
// configuration (Pool.Build, once per load or reload) and sends every
// proxied call through Service.Do, or Service.Dial for a protocol upgrade;
// package shadow builds services of its own, from a Pool of its own, for
// the copies it sends; replay is to send recorded calls the same way.
// upstream calls nobody back: it never decides which side serves.
//
// Passive health: a target that cannot be connected to (refused, dial
// timeout) is marked down for its service's fail_timeout and skipped by
// the round robin; the call moves on to the next target, which is safe for
// every method since the request was never sent. When every target is
// down, Config.AllDown says what a call does: AllDownTry (the proxy) sends
// it to the next target anyway, AllDownSkip (the shadow) fails it at once
// with ErrAllDown.
//
// Clients: a Pool hands its services keep-alive fasthttp clients keyed by
// address and settings. A Build made for a new configuration reuses the
// clients of the last committed Build whose key did not change, so a
// reload keeps warm connections. Pools do not share clients: the shadow's
// copies never take the primary's connections, and a shadow target marked
// down is never down for the primary, whose targets are other objects.
//
// Metrics: a Pool made with Metrics counts its services' latencies and
// failures by service name and its targets' mark-downs by service and
// address, across reloads; Metrics.Append writes them in Prometheus text
// format. The shadow's pool is made without, so its copies never show in
// the proxy's figures.
package upstream
