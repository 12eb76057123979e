package export

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/compress"
	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec compresses a file's pages with one zstd encoder (level 3,
// zstd's default) kept for the whole file, with a 1 MiB window: pages are
// 256 KiB, dictionary pages at most 2 MiB. parquet-go's own codec keeps its
// encoders in a pool that every garbage collection empties, and each new
// encoder allocates its default 8 MiB window twice over, in live heap and
// again in garbage, for every garbage collection of a large export.
type zstdCodec struct {
	mu  sync.Mutex
	enc *zstd.Encoder
}

var _ compress.Codec = (*zstdCodec)(nil)

func newZstdCodec() *zstdCodec {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1<<20), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
	if err != nil {
		panic(err) // the options are constant
	}
	return &zstdCodec{enc: enc}
}

func (c *zstdCodec) String() string                            { return "ZSTD" }
func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc.EncodeAll(src, dst[:0]), nil
}

// Decode is not used in writing; parquet-go's codec reads.
func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) { return zstdReader.Decode(dst, src) }

var zstdReader pqzstd.Codec
