package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/schemas"
)

// Defaults of FetchLimits.
const (
	DefaultMaxAttachmentBytes = 25 << 20
	DefaultMaxMessageBytes    = 50 << 20
	DefaultFetchTimeout       = 30 * time.Second
	DefaultMaxRedirects       = 5
)

// FetchLimits bound the downloads of FetchAttachments. A zero field takes
// its default.
type FetchLimits struct {
	// MaxAttachmentBytes is the largest body of one download, in bytes.
	// Default DefaultMaxAttachmentBytes (25 MiB).
	MaxAttachmentBytes int64
	// MaxMessageBytes is the largest sum of the bodies downloaded for one
	// message, in bytes. Default DefaultMaxMessageBytes (50 MiB).
	MaxMessageBytes int64
	// Timeout bounds each download, from the request to the last byte of
	// the body. Default DefaultFetchTimeout (30 s).
	Timeout time.Duration
	// MaxRedirects is the number of HTTP redirects one download follows.
	// Default DefaultMaxRedirects.
	MaxRedirects int
	// TempDir is the folder where each body is spooled and hashed before
	// it is stored. Default os.TempDir().
	TempDir string
}

func (l FetchLimits) withDefaults() FetchLimits {
	if l.MaxAttachmentBytes <= 0 {
		l.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultFetchTimeout
	}
	if l.MaxRedirects <= 0 {
		l.MaxRedirects = DefaultMaxRedirects
	}
	if l.TempDir == "" {
		l.TempDir = os.TempDir()
	}
	return l
}

// FetchAttachments downloads the attachments of a JSON payload into store.
// urls maps an index of email.Attachments to that attachment's downloadUrl.
// Each URL is fetched with a GET request through client (nil means
// http.DefaultClient's settings), and only a 200 response body is stored,
// under blobstore.AttachmentKey in the folder of the message, so email
// needs Tenant, ReceivedAt and MessageID. On success the attachment's
// StorageKey, SHA256 and Size are set from the stored bytes.
//
// Only http and https URLs are fetched, and redirects are followed only to
// http or https, never from https to http, and at most limits.MaxRedirects
// times. Each download must finish within limits.Timeout and stay within
// limits.MaxAttachmentBytes and, together with the downloads before it,
// limits.MaxMessageBytes. When the payload declared a SHA-256 for the
// attachment, the downloaded bytes must have it.
//
// A download that breaks one of these rules or fails in any other way
// does not drop the message. FetchAttachments then adds a warning that
// names the attachment and the reason to email.Warnings, leaves its
// StorageKey empty and goes on with the next one. Warnings leave out the
// URL, which may carry an access token, but a connection error names the
// host and port.
//
// The returned error is kept for failures that are not the download's
// fault. An index in urls outside email.Attachments and a message without
// the fields its keys need are the caller's bugs. A failing store and an
// ended ctx are worth retrying, so the caller should return a temporary
// failure to the sender.
//
// NOTE: the URLs come from the sender's payload and client dials whatever
// host they name. Pass a client whose dialer rejects internal addresses
// when senders are not trusted.
func FetchAttachments(ctx context.Context, email *schemas.InboundEmail, urls map[int]string, store blobstore.Store, client *http.Client, limits FetchLimits) error {
	if email == nil {
		return errors.New("ingest.FetchAttachments: email is nil")
	}
	if store == nil {
		return errors.New("ingest.FetchAttachments: object store is nil; pass a blobstore.Store such as blobstore.NewDir")
	}
	indexes := make([]int, 0, len(urls))
	for i := range urls {
		if i < 0 || i >= len(email.Attachments) {
			return fmt.Errorf("ingest.FetchAttachments: urls has index %d but the message has %d attachments; key urls by the attachment's position", i, len(email.Attachments))
		}
		indexes = append(indexes, i)
	}
	if len(indexes) == 0 {
		return nil
	}
	sort.Ints(indexes)

	folder, err := blobstore.MessageFolder(email.Tenant, email.ReceivedAt, email.MessageID)
	if err != nil {
		return fmt.Errorf("naming the storage folder of the message: %w", err)
	}
	limits = limits.withDefaults()
	f := &fetcher{
		store:  store,
		client: downloadClient(client, limits.MaxRedirects),
		limits: limits,
		folder: folder,
	}
	for _, i := range indexes {
		a := &email.Attachments[i]
		warning, err := f.fetch(ctx, i, a, urls[i])
		if err != nil {
			return fmt.Errorf("fetching %s: %w", describeAttachment(i, a), err)
		}
		if warning != "" {
			a.StorageKey = ""
			email.Warnings = append(email.Warnings, fmt.Sprintf("%s not stored: %s", describeAttachment(i, a), warning))
		}
	}
	return nil
}

// fetcher downloads the attachments of one message.
type fetcher struct {
	store  blobstore.Store
	client *http.Client
	limits FetchLimits
	folder string
	used   int64 // bytes downloaded for this message so far
}

// fetch downloads one attachment and stores it. A failure of the download
// is returned as warning, and a failure of the store or of ctx as err.
func (f *fetcher) fetch(ctx context.Context, index int, a *schemas.Attachment, rawURL string) (warning string, err error) {
	if problem := checkDownloadURL(rawURL); problem != "" {
		return problem, nil
	}
	limit := min(f.limits.MaxAttachmentBytes, f.limits.MaxMessageBytes-f.used)
	if limit <= 0 {
		return fmt.Sprintf("the attachments of this message already reach the limit of %d bytes per message", f.limits.MaxMessageBytes), nil
	}

	spool, err := os.CreateTemp(f.limits.TempDir, "mailtriage-download-*")
	if err != nil {
		return "", fmt.Errorf("creating a temporary file in %s: %w", f.limits.TempDir, err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()

	info, warning, err := f.download(ctx, rawURL, spool, limit)
	f.used += info.Size
	if warning != "" || err != nil {
		return warning, err
	}
	if declared := strings.ToLower(a.SHA256); declared != "" && declared != info.SHA256 {
		return fmt.Sprintf("SHA-256 mismatch: the payload declares %s but the downloaded %d bytes have %s", a.SHA256, info.Size, info.SHA256), nil
	}

	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("rewinding %s: %w", spool.Name(), err)
	}
	key := blobstore.AttachmentKey(f.folder, index, info.SHA256)
	stored, err := f.store.PutStream(ctx, key, spool, info.Size)
	if err != nil {
		return "", err
	}
	a.StorageKey = stored.Key
	a.SHA256 = stored.SHA256
	a.Size = stored.Size
	return "", nil
}

// download copies the body of a GET of rawURL into w, at most limit bytes,
// and returns its digest and size.
func (f *fetcher) download(ctx context.Context, rawURL string, w io.Writer, limit int64) (blobstore.ObjectInfo, string, error) {
	reqCtx, cancel := context.WithTimeout(ctx, f.limits.Timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, rawURL, nil)
	if err != nil {
		return blobstore.ObjectInfo{}, "invalid download URL: " + withoutURL(err).Error(), nil
	}
	resp, err := f.client.Do(req)
	if err != nil {
		warning, err := f.failure(ctx, reqCtx, "download failed", err)
		return blobstore.ObjectInfo{}, warning, err
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return blobstore.ObjectInfo{}, fmt.Sprintf("download failed: the server answered %s", resp.Status), nil
	}
	if resp.ContentLength > limit {
		return blobstore.ObjectInfo{}, fmt.Sprintf("%s (Content-Length %d)", f.tooLarge(limit), resp.ContentLength), nil
	}

	info, err := copyLimited(w, resp.Body, limit)
	if err != nil {
		warning, err := f.failure(ctx, reqCtx, "reading the download failed", err)
		return info, warning, err
	}
	if info.Size > limit {
		return info, f.tooLarge(limit), nil
	}
	return info, "", nil
}

// copyLimited copies at most limit+1 bytes of r to w, so that a body over
// limit shows, and returns the digest and count of the bytes copied.
func copyLimited(w io.Writer, r io.Reader, limit int64) (blobstore.ObjectInfo, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, limit+1))
	return blobstore.ObjectInfo{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, err
}

// failure turns a request error into a warning. When the caller's ctx has
// ended it returns ctx's error instead, which is not the sender's fault.
func (f *fetcher) failure(ctx, reqCtx context.Context, what string, err error) (string, error) {
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("download timed out after %s", f.limits.Timeout), nil
	}
	return what + ": " + withoutURL(err).Error(), nil
}

// tooLarge returns the warning for a body over limit, naming the limit
// that applied.
func (f *fetcher) tooLarge(limit int64) string {
	if limit < f.limits.MaxAttachmentBytes {
		return fmt.Sprintf("download too large: more than the %d bytes left of the limit of %d bytes per message", limit, f.limits.MaxMessageBytes)
	}
	return fmt.Sprintf("download too large: more than the limit of %d bytes per attachment", limit)
}

// PresignAttachments returns a short-lived download URL for every stored
// attachment of email, keyed by StorageKey, valid for ttl. Attachments
// without a StorageKey are left out. It fails when store cannot presign,
// as blobstore.Dir cannot, with an error wrapping
// blobstore.ErrPresignUnsupported.
//
// NOTE: the InboundEmail contract has no field for these URLs, so callers
// hand them out beside the record.
func PresignAttachments(ctx context.Context, email *schemas.InboundEmail, store blobstore.Store, ttl time.Duration) (map[string]string, error) {
	urls := map[string]string{}
	for i := range email.Attachments {
		a := &email.Attachments[i]
		if a.StorageKey == "" {
			continue
		}
		u, err := store.PresignGet(ctx, a.StorageKey, ttl)
		if err != nil {
			return nil, fmt.Errorf("presigning %s: %w", describeAttachment(i, a), err)
		}
		urls[a.StorageKey] = u
	}
	return urls, nil
}

// checkDownloadURL returns why rawURL cannot be fetched, or "" when it can.
// The reason names the scheme but not the URL.
func checkDownloadURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "invalid download URL: " + withoutURL(err).Error()
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("download URL has scheme %q; only http and https URLs are fetched", u.Scheme)
	}
	if u.Host == "" {
		return "download URL has no host"
	}
	return ""
}

// downloadClient returns a copy of client whose redirects are checked by
// checkRedirect before client's own CheckRedirect runs.
func downloadClient(client *http.Client, maxRedirects int) *http.Client {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	inner := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkRedirect(req, via, maxRedirects); err != nil {
			return err
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return c
}

func checkRedirect(req *http.Request, via []*http.Request, maxRedirects int) error {
	scheme := req.URL.Scheme
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("redirect to a %q URL rejected; downloads follow redirects only to http and https", scheme)
	}
	if scheme == "http" && via[len(via)-1].URL.Scheme == "https" {
		return errors.New("redirect from https to http rejected")
	}
	if len(via) > maxRedirects {
		return fmt.Errorf("more than %d redirects", maxRedirects)
	}
	return nil
}

// withoutURL returns the cause inside a *url.Error, whose own message
// contains the URL.
func withoutURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

// describeAttachment names attachment i for warnings and errors.
func describeAttachment(i int, a *schemas.Attachment) string {
	if a.Filename == "" {
		return fmt.Sprintf("attachment %d", i)
	}
	return fmt.Sprintf("attachment %d (%q)", i, a.Filename)
}
