package store

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/cutover/cutover/message"
)

// CallJSON is the API form of a Record's call without its headers and
// bodies: the part GET /api/records shows beside them, and all a chain tree
// shows of each call. IDs are lowercase hex, a zero parent span is "",
// times are RFC 3339 with nanoseconds in UTC and latencies are float
// milliseconds.
type CallJSON struct {
	ID           string  `json:"id"`
	ChainID      string  `json:"chain_id"`
	SpanID       string  `json:"span_id"`
	ParentSpanID string  `json:"parent_span_id"`
	Route        string  `json:"route"`
	Tenant       string  `json:"tenant"`
	Side         string  `json:"side"`
	Target       string  `json:"target"`
	Shadow       bool    `json:"shadow"`
	Cohort       string  `json:"cohort,omitempty"`
	Decision     string  `json:"decision,omitempty"`
	Method       string  `json:"method"`
	URI          string  `json:"uri"`
	Start        string  `json:"start"`
	LatencyMS    float64 `json:"latency_ms"`
	Error        string  `json:"error"`
}

// recordJSON is the API form of a Record: its call, then each side.
type recordJSON struct {
	CallJSON
	Request  messageJSON  `json:"request"`
	Response responseJSON `json:"response"`
}

type responseJSON struct {
	Status int `json:"status"`
	messageJSON
}

// messageJSON is one side of the call. A body that is valid UTF-8 is
// "body"; any other is "body_base64", so binary bodies survive JSON.
type messageJSON struct {
	Headers    [][2]string `json:"headers"`
	Body       *string     `json:"body,omitempty"`
	BodyBase64 string      `json:"body_base64,omitempty"`
	Truncated  bool        `json:"truncated"`
}

// MarshalJSON returns the API form of r.
func (r *Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{
		CallJSON: r.Call(),
		Request:  messageOf(r.ReqHeaders, r.ReqBody, r.ReqTruncated),
		Response: responseJSON{Status: r.Status, messageJSON: messageOf(r.RespHeaders, r.RespBody, r.RespTruncated)},
	})
}

// Call returns the API form of r's call, without headers and bodies.
func (r *Record) Call() CallJSON {
	v := CallJSON{
		ChainID:   r.Chain.String(),
		SpanID:    r.Span.String(),
		Route:     r.Route,
		Tenant:    string(r.Tenant),
		Side:      r.Side,
		Target:    r.Target,
		Shadow:    r.Shadow,
		Cohort:    r.Cohort,
		Decision:  r.Decision,
		Method:    string(r.Method),
		URI:       string(r.URI),
		Start:     FormatTime(r.Start),
		LatencyMS: Millis(r.Latency),
		Error:     r.Error,
	}
	if !r.Parent.IsZero() {
		v.ParentSpanID = r.Parent.String()
	}
	// A record that was never appended (one kept only inside a comparison
	// sample) has no ID.
	if !r.ID.IsZero() {
		v.ID = r.ID.String()
	}
	return v
}

// messageOf is the API form of one side of a call.
func messageOf(headers, body []byte, truncated bool) messageJSON {
	m := messageJSON{Headers: HeaderPairs(headers), Truncated: truncated}
	if utf8.Valid(body) {
		s := string(body)
		m.Body = &s
	} else {
		m.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	return m
}

// UnmarshalJSON reads the API form of a record, for clients of the admin
// API. It is the one decoder of that form: a call of a chain tree, which
// carries the record's fields but for its messages, is read with it too.
func (r *Record) UnmarshalJSON(data []byte) error {
	var v recordJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	var out Record
	var err error
	if v.ID != "" {
		if out.ID, err = ParseID(v.ID); err != nil {
			return err
		}
	}
	if err := DecodeHexField("chain_id", v.ChainID, out.Chain[:]); err != nil {
		return err
	}
	if err := DecodeHexField("span_id", v.SpanID, out.Span[:]); err != nil {
		return err
	}
	if err := DecodeHexField("parent_span_id", v.ParentSpanID, out.Parent[:]); err != nil {
		return err
	}
	if v.Start != "" {
		if out.Start, err = time.Parse(time.RFC3339Nano, v.Start); err != nil {
			return fmt.Errorf("store: bad start: %w", err)
		}
	}
	if out.ReqBody, err = v.Request.body(); err != nil {
		return err
	}
	if out.RespBody, err = v.Response.body(); err != nil {
		return err
	}
	out.Route, out.Side, out.Target, out.Error = v.Route, v.Side, v.Target, v.Error
	out.Tenant, out.Method, out.URI = []byte(v.Tenant), []byte(v.Method), []byte(v.URI)
	out.Shadow, out.Status = v.Shadow, v.Response.Status
	out.Cohort, out.Decision = v.Cohort, v.Decision
	out.ReqHeaders = appendHeaderLines(nil, v.Request.Headers)
	out.RespHeaders = appendHeaderLines(nil, v.Response.Headers)
	out.ReqTruncated, out.RespTruncated = v.Request.Truncated, v.Response.Truncated
	out.Latency = time.Duration(math.Round(v.LatencyMS * 1e6))
	*r = out
	return nil
}

// body decodes the body of one side; a side without one (a call in a
// chain tree) has none.
func (m *messageJSON) body() ([]byte, error) {
	switch {
	case m.Body != nil:
		return []byte(*m.Body), nil
	case m.BodyBase64 == "":
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(m.BodyBase64)
	if err != nil {
		return nil, fmt.Errorf("store: bad body_base64: %w", err)
	}
	return b, nil
}

// DecodeHexField decodes an ID field; "" leaves dst zero.
func DecodeHexField(name, s string, dst []byte) error {
	if s == "" {
		return nil
	}
	if len(s) != 2*len(dst) {
		return fmt.Errorf("store: bad %s %q", name, s)
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("store: bad %s %q: %w", name, s, err)
	}
	return nil
}

// HeaderPairs splits raw header lines into name and value pairs, in order,
// read by the rules of package message: the name and the value lose the
// spaces and tabs around them, an empty line ends the block, and a folded
// line joins the value above it with one space. A line that is not a
// field line is kept whole as a name with an empty value, so nothing
// recorded disappears from view.
func HeaderPairs(raw []byte) [][2]string {
	pairs := [][2]string{}
	s := message.Scan(raw)
	for s.Next() {
		f := s.Field()
		switch {
		case f.Name != nil:
			pairs = append(pairs, [2]string{string(f.Name), string(f.Value)})
		case f.Folded && len(pairs) > 0:
			if p := &pairs[len(pairs)-1]; p[1] == "" {
				p[1] = string(f.Value)
			} else if len(f.Value) > 0 {
				p[1] += " " + string(f.Value)
			}
		default:
			pairs = append(pairs, [2]string{string(bytes.TrimSpace(f.Line)), ""})
		}
	}
	return pairs
}

func appendHeaderLines(dst []byte, pairs [][2]string) []byte {
	for _, p := range pairs {
		dst = append(dst, p[0]...)
		dst = append(dst, ": "...)
		dst = append(dst, p[1]...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// FormatTime is the API's form of a time: RFC 3339 with nanoseconds, in
// UTC, or "" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Millis is d in milliseconds, rounded to the microsecond, the API's unit
// for durations.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}
