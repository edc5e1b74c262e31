package feed

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A chunk is how the stores keep the feed: a run of records packed
// end to end, 12 bytes each (8-byte key, 4-byte value, big-endian), after
// a 4-byte magic that names the layout. The whole feed of a tenant is a
// few chunks, so a store writes and reads it in bulk: a million numbers
// are 12 MB in 16 chunks.
const (
	chunkMagic   = "CSF1"
	recordSize   = 12
	chunkRecords = 64 * 1024
)

// errChunk reports a chunk that is not in the layout above.
var errChunk = errors.New("damaged feed chunk")

// chunks packs records into chunks of at most chunkRecords each.
func chunks(recs []Record) [][]byte {
	var out [][]byte
	for len(recs) > 0 {
		n := min(len(recs), chunkRecords)
		b := make([]byte, len(chunkMagic)+n*recordSize)
		copy(b, chunkMagic)
		p := b[len(chunkMagic):]
		for i, r := range recs[:n] {
			binary.BigEndian.PutUint64(p[i*recordSize:], r.Key)
			binary.BigEndian.PutUint32(p[i*recordSize+8:], r.Value)
		}
		out = append(out, b)
		recs = recs[n:]
	}
	return out
}

// unchunk calls fn with each valid record of a chunk.
func unchunk(b []byte, fn func(Record) error) error {
	if len(b) < len(chunkMagic) || string(b[:len(chunkMagic)]) != chunkMagic || (len(b)-len(chunkMagic))%recordSize != 0 {
		return fmt.Errorf("%w (%d bytes)", errChunk, len(b))
	}
	for p := b[len(chunkMagic):]; len(p) > 0; p = p[recordSize:] {
		r := Record{Key: binary.BigEndian.Uint64(p), Value: binary.BigEndian.Uint32(p[8:])}
		if !value(r.Value).valid() {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
