// Package message handles the raw HTTP messages that cutover records,
// compares and exports: it parses header blocks and decodes bodies by
// their Content-Encoding. It is a leaf: it imports nothing of cutover, and
// it holds no policy — what to do with a body that does not decode, or
// with one that decodes to too much, is the caller's choice.
//
// # Header blocks
//
// A header block is the raw text of a message's field lines,
// "Name: value\r\n" each, without the start line, as store.Record keeps
// them. Scan reads one line at a time, by these rules:
//
//   - A line ends in LF, optionally preceded by CR; the last line may lack
//     its end. An empty line ends the block: what follows it is not read.
//   - A field line is "name:value". The name and the value lose the spaces
//     and tabs around them (RFC 9110 section 5.6.3, OWS); a value keeps
//     everything else as it is.
//   - A line that starts with a space or a tab continues the field line
//     above it (obsolete line folding, RFC 9112 section 5.2): Field.Folded.
//   - A line without a colon, or with nothing before its colon, is not a
//     field line: its Field has no Name, and lookups skip it.
//
// Names compare ASCII case-insensitively (RFC 9110 section 5.1).
// AppendValues joins the values of every line of one field with ", ", in
// order, as RFC 9110 section 5.3 allows a recipient to combine them; a
// folded continuation joins its line with one space.
//
// # Content codings
//
// A Content-Encoding value is a list of codings in the order they were
// applied (RFC 9110 section 8.4), so Decoder undoes them last first. It
// decodes gzip and x-gzip, deflate (zlib-wrapped as RFC 9110 section
// 8.4.1.2 says, or raw DEFLATE as some servers send it: a body whose first
// two bytes are not a zlib header is read as raw DEFLATE) and identity,
// which is no coding; empty list elements are ignored. A list that names
// anything else (br, zstd, compress), or more than MaxCodings codings, is
// not decoded at all: ErrUnsupported. The decoded output is bounded by a
// limit the caller gives, so a small compressed body cannot grow memory
// beyond it: ErrTooLarge, with the first limit bytes decoded. A body
// that does not decode (a bad header or checksum, trailing garbage, or a
// stream cut short) fails with the bytes decoded until then; a stream cut
// short fails with an error that wraps io.ErrUnexpectedEOF.
//
// Scan and AppendValues allocate nothing; a warm Decoder allocates
// nothing but the output it appends, and 4 bytes for each zlib checksum
// (the standard library's zlib reader makes a new one per stream).
package message
