package gateway

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"time"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/recorder"
)

// ReloadResult says what a successful reload changed.
type ReloadResult struct {
	// Changed is false when the file held the running configuration already.
	Changed bool `json:"changed"`
	// RestartRequired lists keys whose new values apply only after a
	// restart (listen addresses, max_body).
	RestartRequired []string `json:"restart_required,omitempty"`
}

// ErrNoConfigFile is returned by Reload on a gateway built without a file.
var ErrNoConfigFile = errors.New("gateway: no config file to reload")

// Reload reads the config file again and, when it is valid, swaps it in.
// A bad file leaves the running configuration in place; the error names
// the line and key. In-flight requests finish on the snapshot they began
// with.
func (g *Gateway) Reload() (ReloadResult, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.path == "" {
		return ReloadResult{}, ErrNoConfigFile
	}
	data, err := os.ReadFile(g.path)
	if err != nil {
		return ReloadResult{}, g.reloadFailed(err)
	}
	return g.applyLocked(data)
}

func (g *Gateway) applyLocked(data []byte) (ReloadResult, error) {
	if bytes.Equal(data, g.applied) {
		return ReloadResult{}, nil
	}
	cfg, err := configs.Parse(g.path, data)
	if err != nil {
		return ReloadResult{}, g.reloadFailed(err)
	}
	snap, err := g.compile(cfg)
	if err != nil {
		return ReloadResult{}, g.reloadFailed(err)
	}
	g.configureRollouts(snap)
	old := g.snap.Swap(snap)
	g.retireShadows(snap)
	g.mirror.SetRedactor(redactorFor(cfg))
	g.applyTracing(cfg)
	if g.recorder != nil {
		// Validation refused bad paths already, so none is skipped here.
		g.recorder.SetRules(recorder.RulesFor(cfg))
	}
	g.applied = data
	g.lastErr = nil
	g.metrics.reloadsOK.Add(1)
	g.metrics.lastReload.Store(snap.loaded.Unix())
	res := ReloadResult{Changed: true, RestartRequired: restartRequired(old.cfg, cfg)}
	g.log.Info("config reloaded", "file", g.path, "routes", len(cfg.Routes), "services", len(cfg.Services))
	if len(res.RestartRequired) > 0 {
		g.log.Warn("config keys changed that apply only after a restart", "keys", res.RestartRequired)
	}
	return res, nil
}

func (g *Gateway) reloadFailed(err error) error {
	g.lastErr = err
	g.metrics.reloadsFailed.Add(1)
	g.log.Error("config reload failed; the running config stays in place", "file", g.path, "err", err)
	return err
}

// restartRequired lists keys bound at start that a reload cannot change.
func restartRequired(old, cur *configs.Config) []string {
	var keys []string
	if old.Listen != cur.Listen {
		keys = append(keys, "listen")
	}
	if old.Admin.Listen != cur.Admin.Listen {
		keys = append(keys, "admin.listen")
	}
	if old.ClientHeaderTimeout != cur.ClientHeaderTimeout {
		keys = append(keys, "client_header_timeout")
	}
	if !reflect.DeepEqual(old.Store, cur.Store) {
		keys = append(keys, "store")
	}
	if old.Memory != cur.Memory {
		keys = append(keys, "memory.async")
	}
	if tracingRestartRequired(old, cur) {
		keys = append(keys, "tracing.otlp")
	}
	for _, r := range cur.Routes {
		for _, o := range old.Routes {
			if o.Name == r.Name && o.Shadow != nil && r.Shadow != nil &&
				(o.Shadow.Concurrency != r.Shadow.Concurrency || o.Shadow.Queue != r.Shadow.Queue) {
				keys = append(keys, "routes."+r.Name+".shadow.concurrency/queue")
			}
		}
	}
	return keys
}

// WatchFile reloads the config file whenever its content changes, checking
// every interval until ctx ends. Reading the content, rather than watching
// modification times, also catches the symlink swap a Kubernetes ConfigMap
// update makes. A file that failed to load is not retried until it
// changes again.
func (g *Gateway) WatchFile(ctx context.Context, interval time.Duration) {
	if g.path == "" {
		return
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var tried []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		data, err := os.ReadFile(g.path)
		if err != nil || bytes.Equal(data, tried) {
			continue
		}
		g.reloadMu.Lock()
		if !bytes.Equal(data, g.applied) {
			tried = data
			_, _ = g.applyLocked(data)
		}
		g.reloadMu.Unlock()
	}
}

// SetApplied records the file content the gateway was started with, so the
// watcher does not reload it again.
func (g *Gateway) SetApplied(data []byte) {
	g.reloadMu.Lock()
	g.applied = data
	g.reloadMu.Unlock()
}
