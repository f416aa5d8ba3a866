// Package buildinfo holds what the build stamps into the binary. It is a
// leaf: the command prints it and the gateway reports it, and neither has
// to import the other for it.
package buildinfo

// Version is the binary's version, "dev" unless set at build time with
//
//	-ldflags "-X github.com/cutover/cutover/internal/buildinfo.Version=v1.2.3"
//
// as the Makefile and the Dockerfile do.
var Version = "dev"
