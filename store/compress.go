package store

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Stored records are compressed with zstd (github.com/klauspost/compress,
// the Go implementation fasthttp already brings). The embedded store packs
// the records of a batch into frames of about frameTarget bytes, each
// compressed as one zstd frame, so that calls that look alike, as the
// calls of one API do, share their repeated bytes: 1 KiB JSON calls take
// about a fifth of their encoding. Redis stores each record as a frame of
// its own (redis_records.go), since it reads records one key at a time.
//
// One encoder and one decoder serve the process. Creating either costs far
// more than a record, and EncodeAll and DecodeAll are safe for concurrent
// use; with a concurrency of one, concurrent calls take turns, which
// bounds the memory to one encoder's and one decoder's state. Appends run
// one at a time on the recorder's goroutine anyway, and a read decodes a
// frame in well under a millisecond.
const (
	// frameTarget is the encoded size past which a batch's frame is
	// closed. Larger frames compress better and cost a read more: reading
	// one record decodes its whole frame. 64, 128, 192 KiB frames of
	// 1 KiB JSON calls took 422, 381 and 360 bytes a record for the
	// compressed data, and a read by ID 0.1, 0.19 and 0.46 ms. On disk,
	// index included, 256 KiB frames took 442 bytes a record (calls in
	// start order) and about 515 (out of order), 512 KiB frames 422 and
	// 483, at 0.5 ms a read by ID and 5 ms a page of 50: the store stays
	// within 500 bytes a 1 KiB JSON call and reads stay in milliseconds.
	frameTarget = 512 << 10
	// frameWindow is the encoder's window: a frame, up to frameTarget and
	// one record, is compressed whole, so a window past its size finds
	// every repeat in it.
	frameWindow = 2 * frameTarget
	// maxDecoded bounds what one frame may decode to, so that a damaged
	// frame header cannot ask for an absurd buffer. A frame holds at most
	// frameTarget bytes and one record; a frame or record larger than
	// this, of bodies that a large record.max_body let through, is stored
	// plain.
	maxDecoded = 64 << 20
)

var (
	zenc = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(frameWindow),
			zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(fmt.Sprintf("store: zstd encoder: %v", err)) // constant options
		}
		return e
	})
	zdec = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(maxDecoded))
		if err != nil {
			panic(fmt.Sprintf("store: zstd decoder: %v", err)) // constant options
		}
		return d
	})
)

// packedRecord is the first byte of a record compressed on its own, as
// Redis stores records: the zstd frame of its encoding follows. It is no
// version of the encoding's (codec.go), so a value tells which it is.
const packedRecord = 5

// appendPacked appends the stored form of the encoding enc to dst:
// packedRecord and its frame, or enc itself when compression would not
// shrink it or it is larger than maxDecoded.
func appendPacked(dst, enc []byte) []byte {
	if len(enc) > maxDecoded {
		return append(dst, enc...)
	}
	at := len(dst)
	dst = compress(append(dst, packedRecord), enc)
	if len(dst)-at >= len(enc) {
		return append(dst[:at], enc...)
	}
	return dst
}

// unpack returns the encoding of a record stored as v: v itself, or the
// decompressed frame of a packed record.
func unpack(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != packedRecord {
		return v, nil
	}
	return decompress(nil, v[1:])
}

// compress appends the zstd frame of src to dst.
func compress(dst, src []byte) []byte { return zenc().EncodeAll(src, dst) }

// framePool holds the buffers that reads decompress frames into, so that
// reading a page costs no frame-sized allocation.
var framePool sync.Pool // of *frameBuf

// frameBuf is a read's compressed frame and its decompressed bytes.
type frameBuf struct{ packed, frame []byte }

// maxPooledFrame is the largest buffer kept in framePool: a frame of a
// record with large bodies is not kept.
const maxPooledFrame = 4 * frameTarget

// decompress appends the bytes of the zstd frame src to dst.
func decompress(dst, src []byte) ([]byte, error) {
	out, err := zdec().DecodeAll(src, dst)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return out, nil
}
