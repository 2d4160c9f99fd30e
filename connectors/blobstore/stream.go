package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// copyHashed copies r to w up to io.EOF and returns the SHA-256 and count
// of the bytes copied. When size is not negative, a count other than size
// is an error. It stops with ctx's error when ctx ends between reads.
func copyHashed(ctx context.Context, w io.Writer, r io.Reader, size int64) (ObjectInfo, error) {
	src := io.Reader(contextReader{ctx: ctx, r: r})
	if size >= 0 {
		// One byte past size is enough to tell that r is too long.
		src = io.LimitReader(src, size+1)
	}

	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), src)
	if err != nil {
		return ObjectInfo{}, err
	}
	if size >= 0 && n > size {
		return ObjectInfo{}, fmt.Errorf("the reader yielded more than the %d bytes given as size; pass the exact size or -1", size)
	}
	if size >= 0 && n < size {
		return ObjectInfo{}, fmt.Errorf("the reader yielded %d bytes, fewer than the %d given as size: %w", n, size, io.ErrUnexpectedEOF)
	}
	return ObjectInfo{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// contextReader returns ctx's error from Read once ctx has ended, so that a
// long copy stops when its caller gives up.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
