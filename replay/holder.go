package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/cutover/cutover/store"
)

// holder is the marker a gateway writes beside its store file, so that a
// replay refused by the file's lock can say who holds it.
type holder struct {
	PID   int    `json:"pid"`
	Admin string `json:"admin"`
}

func holderPath(storePath string) string { return storePath + ".holder" }

// MarkHolder writes the marker of the process that holds the store file at
// storePath: its pid and admin address. The gateway calls it once it has
// opened the file; the marker is read only while the lock is held, so one
// left behind by a crash misleads nobody.
func MarkHolder(storePath, admin string) error {
	b, _ := json.Marshal(holder{PID: os.Getpid(), Admin: admin})
	return os.WriteFile(holderPath(storePath), b, 0o644)
}

// OpenStore opens a store file for replay or export. A file that a running
// gateway holds fails with an error naming the gateway's admin address,
// so the user can read through the admin API instead; a missing file
// fails rather than being created. It is opened read-only, beside other
// readers.
func OpenStore(path string) (*store.Bolt, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("cannot open store %q: %w", path, err)
	}
	b, err := store.OpenBolt(path, store.BoltOptions{ReadOnly: true})
	if errors.Is(err, store.ErrLocked) {
		var h holder
		if data, rerr := os.ReadFile(holderPath(path)); rerr == nil && json.Unmarshal(data, &h) == nil && h.Admin != "" {
			return nil, fmt.Errorf("store %q is held by a running gateway (pid %d, admin API %s): read it through that gateway with --admin http://%s", path, h.PID, h.Admin, h.Admin)
		}
		return nil, fmt.Errorf("store %q is held by another process (a running cutover serve?): stop it, or read through its admin API with --admin: %w", path, err)
	}
	return b, err
}
