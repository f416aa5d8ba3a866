// Package loopback helps tests use real servers on 127.0.0.1.
package loopback

import (
	"net"
	"testing"
)

// DeadAddr returns a loopback address where nothing listens, so a
// connection to it is refused: a port that was just bound and closed.
func DeadAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
