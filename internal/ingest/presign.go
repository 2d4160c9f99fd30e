package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/schemas"
)

// DownloadURLTTL is how long the presigned download URL of an attachment
// stays valid. A consumer that reads the record later, for example after a
// replay, presigns the StorageKey again.
const DownloadURLTTL = time.Hour

// SetDownloadURLs sets DownloadURL on every stored attachment of email when
// store can presign, as S3-compatible stores can. A local folder cannot,
// so its records carry no URL and get no warning. Any other presign
// failure leaves the URL empty and adds a warning naming the attachment.
func SetDownloadURLs(ctx context.Context, email *schemas.InboundEmail, store blobstore.Store) {
	for i := range email.Attachments {
		a := &email.Attachments[i]
		if a.StorageKey == "" {
			continue
		}
		url, err := store.PresignGet(ctx, a.StorageKey, DownloadURLTTL)
		if errors.Is(err, blobstore.ErrPresignUnsupported) {
			return
		}
		if err != nil {
			email.Warnings = append(email.Warnings, fmt.Sprintf("attachment %d (%s): no download URL: presigning failed: %v", i, a.Filename, err))
			continue
		}
		a.DownloadURL = url
	}
}
