// Package e2e holds cutover's end-to-end tests. They build the real binary
// once (TestMain), start it with generated config files on loopback ports
// the kernel picks (listen: 127.0.0.1:0; the chosen addresses are read from
// the "cutover serving" log line), put real upstream servers behind it, and
// check behaviour over real sockets: bodies byte for byte, header hygiene,
// chain IDs, error statuses, load balancing, upgrades, reloads, draining,
// the admin API and the command line.
//
// Rules the tests keep: they talk only to 127.0.0.1; every wait is bounded
// and polls for an outcome, never asserting how long something took; every
// process and server a test starts is stopped in t.Cleanup.
//
// Run with: go test ./e2e/ (add -race, -count=N as needed). The binary is
// built without the race detector unless E2E_BUILD_FLAGS=-race is set; a
// test then fails when the race detector reports anything in the gateway.
package e2e
