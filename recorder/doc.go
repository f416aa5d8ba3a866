// Package recorder captures calls for cutover: it decides which chains are
// recorded, takes each captured call off the gateway's hot path, redacts
// it and writes it to the store in batches.
//
// # The path of one record
//
// The gateway decides with Sampled whether a chain is recorded, takes an
// empty record with Get, fills it with the store.Record Set helpers and
// hands it over with Submit. Submit never blocks and never allocates: it
// charges the record's bytes to the memory budget (Options.Budget,
// memory.async, shared with the shadow mirror) and puts it on a bounded
// queue, or drops it when the queue is full (ReasonQueueFull) or it does
// not fit the budget (ReasonBudget) and counts it. From Submit on, the
// record belongs to the recorder; its bytes stay charged until it is
// written or dropped, through any store retries. Redaction may change a
// record's size, and its charge follows.
//
// The gateway records a call when its chain is sampled (Sampled) or, with
// record.errors, when it failed; the recorder takes what it is given.
//
// One writer goroutine takes records off the queue, redacts them and
// calls Writer.Append with a batch of up to BatchSize records, or fewer
// when Interval has passed since the last write, so a record is durable
// within Interval plus one commit of its response. When Append fails,
// the batch is held, redacted, and tried again with the next batches
// after a wait that doubles from Interval up to 2 s; held records beyond
// Options.Buffer bytes are dropped, oldest first (ReasonStoreError,
// logged at most once a second), and the writer carries on; Failing
// says why the last write failed until one succeeds. Written records, and dropped ones, go back to a
// sync.Pool for Get. Close stops accepting (later records count under
// ReasonClosed) and writes what is queued. So every submitted record is
// either in Written or in exactly one Dropped reason.
//
// Redaction runs in the writer goroutine, never on the caller's.
//
// # Compressed bodies
//
// Before redaction, a compressed body is replaced by its decoded content,
// cut at MaxBody and then marked truncated, and its Content-Encoding
// lines are renamed DecodedHeader: the stored headers describe the stored
// body and still say how it travelled. Compressed bytes would be
// unreadable in the API, and JSON inside them could not be redacted. The
// body is decoded by its Content-Encoding list as package message decodes
// it (every line joined, the codings undone last first; gzip, x-gzip,
// deflate zlib-wrapped or raw, identity), the same list a comparison
// decodes by. A body cut at the capture cap decodes as far as it goes. A
// list naming another coding (br, zstd) and bytes that do not decode are
// left as they are, and so fall under the rule below.
//
// # Redaction
//
// Headers: every header line whose name is in RedactHeaders (compared
// case-insensitively, every repetition) keeps its name and gets the value
// "[redacted]".
//
// JSON bodies: a body is JSON when its Content-Type names JSON
// (application/json, any +json type, application/x-ndjson and the like)
// or when it starts with '{' or '[' after a byte-order mark, an anti-XSSI
// prefix and whitespace. Every value at a RedactJSON path becomes the
// string "[redacted]", whatever its type; the rest of the body is kept
// byte for byte. Paths are gjson-style: "card.number" from the root,
// "items.#.secret" through every element of an array, and a bare name
// such as "password" is that key at any depth, inside arrays too. Keys
// are compared after JSON unescaping, by Unicode case folding unless
// Rules.ExactCase. The scanner reads what services accept as JSON: a
// UTF-8 byte-order mark, an anti-XSSI prefix (")]}'," and the like),
// several texts one after another (newline-delimited JSON, concatenated
// values, RFC 7464 sequences), each from its own root, and trailing
// commas.
//
// Redaction fails closed. A body cut at max_body (its Truncated flag set)
// keeps its redacted prefix: the scanner is strict, so it knows that
// everything it read up to the cut was JSON, and a value cut before its
// end is replaced whole. Any other JSON body that the scanner cannot read
// with certainty (malformed, malformed before the cut, compressed in an
// encoding the recorder does not decode, nested deeper than it follows)
// is replaced whole by the Withheld notice with its length and content
// type, and counted (Recorder.Withheld, Redactor.Withheld). A body that
// is neither declared nor shaped as JSON is stored as it came: the rules
// are about JSON values. Without RedactJSON rules, bodies are not touched.
package recorder
