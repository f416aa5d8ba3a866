// Command ssegen is the server-sent-events upstream and client of
// bench/run.sh's sse_ttfb scenario.
//
//	ssegen -serve 127.0.0.1:PORT [-events 9] [-span 800ms]
//
// serves every GET as text/event-stream without a length (chunked): the
// first event at once, then the others spread evenly over span, each
// flushed as it is written, so a proxy that passes the stream through live
// delivers the first event at once and one that buffers the answer delivers
// it after span.
//
//	ssegen -get URL [-n 15] [-c 3] [-events 9]
//
// makes n GETs of URL, c at a time, and prints one line of key=value pairs:
// the median and largest time from sending the request to the end of the
// first event (ttfb), the median time to the end of the stream (total),
// and how many streams arrived whole (all events, in order). It exits
// non-zero when a request fails or a stream arrives incomplete.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

func main() {
	serve := flag.String("serve", "", "serve the event stream on `addr`")
	get := flag.String("get", "", "measure the event stream at `url`")
	events := flag.Int("events", 9, "`number` of events per stream")
	span := flag.Duration("span", 800*time.Millisecond, "time from the first event to the last")
	n := flag.Int("n", 15, "`number` of streams to measure")
	c := flag.Int("c", 3, "streams measured at a time")
	flag.Parse()
	var err error
	switch {
	case *serve != "" && *events >= 1:
		err = runServer(*serve, *events, *span)
	case *get != "" && *n >= 1 && *c >= 1 && *events >= 1:
		err = runClient(*get, *n, *c, *events)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ssegen:", err)
		os.Exit(1)
	}
}

// event is the i-th event of a stream (from 1): an id line and one line of
// JSON data, closed by the blank line that ends an event.
func event(i int) []byte {
	return fmt.Appendf(nil, "id: %d\nevent: progress\ndata: {\"seq\":%d,\"step\":\"step-%d\"}\n\n", i, i, i)
}

func runServer(addr string, events int, span time.Duration) error {
	gap := time.Duration(0)
	if events > 1 {
		gap = span / time.Duration(events-1)
	}
	h := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		rc := http.NewResponseController(w)
		for i := 1; i <= events; i++ {
			if i > 1 {
				select {
				case <-time.After(gap):
				case <-r.Context().Done():
					return
				}
			}
			if _, err := w.Write(event(i)); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(h), ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// sample is one measured stream.
type sample struct {
	ttfb, total time.Duration
	err         error
}

func runClient(url string, n, c, events int) error {
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: c},
	}
	want := make([]byte, 0, 128*events)
	for i := 1; i <= events; i++ {
		want = append(want, event(i)...)
	}
	samples := make([]sample, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for i := range next {
				samples[i] = measure(client, url, want)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()

	var ttfb, total []time.Duration
	var errs []error
	for _, s := range samples {
		if s.err != nil {
			errs = append(errs, s.err)
			continue
		}
		ttfb = append(ttfb, s.ttfb)
		total = append(total, s.total)
	}
	fmt.Printf("n=%d whole=%d ttfb_p50_ms=%s ttfb_max_ms=%s total_p50_ms=%s\n",
		n, len(ttfb), ms(median(ttfb)), ms(maxOf(ttfb)), ms(median(total)))
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d streams failed, first: %w", len(errs), n, errs[0])
	}
	return nil
}

// measure makes one request and times the end of the first event and of
// the stream; the stream must be exactly want.
func measure(client *http.Client, url string, want []byte) sample {
	first := bytes.Index(want, []byte("\n\n")) + 2
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return sample{err: fmt.Errorf("cannot get %s: %w", url, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sample{err: fmt.Errorf("%s answered %d", url, resp.StatusCode)}
	}
	var s sample
	got := make([]byte, 0, len(want)+1)
	buf := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(buf)
		got = append(got, buf[:k]...)
		if s.ttfb == 0 && len(got) >= first {
			s.ttfb = time.Since(start)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sample{err: fmt.Errorf("cannot read the stream of %s: %w", url, err)}
		}
	}
	s.total = time.Since(start)
	if !bytes.Equal(got, want) {
		return sample{err: fmt.Errorf("%s sent %d bytes that are not the %d of the stream", url, len(got), len(want))}
	}
	return s
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return -1
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return -1
	}
	return slices.Max(d)
}

// ms formats d in milliseconds, "null" for none.
func ms(d time.Duration) string {
	if d < 0 {
		return "null"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}
