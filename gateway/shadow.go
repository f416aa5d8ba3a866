package gateway

import (
	"context"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/recorder"
)

// The gateway's part in shadowing is small: compile builds each route's
// shadow with the mirror (shadow.Mirror.Build), and handle, after
// answering, offers the request to its route's shadow (shadow.Compiled.Offer),
// which decides whether and how to copy it.

// redactorFor builds the redaction applied to stored samples from the
// recording rules.
func redactorFor(cfg *configs.Config) *recorder.Redactor {
	rd, _ := recorder.NewRedactor(recorder.RulesFor(cfg))
	return rd
}

// retireShadows stops the shadow workers of routes that snap no longer
// shadows.
func (g *Gateway) retireShadows(snap *snapshot) {
	keep := map[string]bool{}
	for _, r := range snap.table.Routes() {
		if snap.routes[r.Index].shadow != nil {
			keep[r.Name] = true
		}
	}
	g.mirror.Retire(keep)
}

// closeShadows stops the shadow workers after the copies they hold, at
// most until ctx ends, and writes the comparison statistics a last time.
// Call it after Shutdown, before closing the store.
func (g *Gateway) closeShadows(ctx context.Context) error { return g.mirror.Close(ctx) }
