package shadow

import (
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
)

// Job is one request to shadow: the request as sent to the serving side
// and the answer the client got. Compiled.Offer fills it from
// Route.NewJob and gives it up with Submit.
type Job struct {
	Req     fasthttp.Request
	Primary fasthttp.Response

	ServedNew      bool        // new answered the client; the copy goes to old
	Chain          chain.Chain // the primary hop's chain
	Tenant         []byte
	Decision       string    // the rule that chose the serving side
	Start          time.Time // when the primary call was sent
	PrimaryLatency time.Duration
	PrimaryTarget  string
	// Record says the chain is recorded, so the shadow call is recorded
	// too, as a call of the same chain.
	Record bool

	size int64 // bytes charged to the mirror's memory budget
}

// maxPooledJob is the largest body capacity a job keeps when it goes back
// to the pool; bigger buffers are left to the garbage collector so one
// large request does not pin its memory.
const maxPooledJob = 256 << 10

var jobPool = sync.Pool{New: func() any { return new(Job) }}

func getJob() *Job { return jobPool.Get().(*Job) }

func putJob(j *Job) {
	if cap(j.Req.Body()) > maxPooledJob || cap(j.Primary.Body()) > maxPooledJob {
		return
	}
	j.Req.Reset()
	j.Primary.Reset()
	j.ServedNew, j.Chain, j.Tenant, j.Decision = false, chain.Chain{}, j.Tenant[:0], ""
	j.Start, j.PrimaryLatency, j.PrimaryTarget = time.Time{}, 0, ""
	j.Record, j.size = false, 0
	jobPool.Put(j)
}
