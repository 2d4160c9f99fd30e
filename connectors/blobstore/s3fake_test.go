package blobstore

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeS3 is an S3-compatible server for tests. It checks the AWS signature
// version 4 of every request (header, presigned query and chunked payload
// forms) against one key pair, keeps objects in memory, honours
// If-None-Match: * on PUT and records every request it receives.
type fakeS3 struct {
	t         *testing.T
	server    *httptest.Server
	accessKey string
	secretKey string
	region    string
	bucket    string

	mu       sync.Mutex
	objects  map[string]fakeObject // by key
	requests []recordedRequest
}

type fakeObject struct {
	data   []byte
	header http.Header // the PUT request's headers
}

// recordedRequest is one request as fakeS3 saw it.
type recordedRequest struct {
	Method      string
	Path        string
	Query       url.Values
	Header      http.Header
	SignatureOK bool
	SignError   string // why the signature check failed
	Presigned   bool
}

// newFakeS3 starts a fake S3 server on 127.0.0.1, with TLS unless plain
// is set, and stops it when the test ends.
func newFakeS3(t *testing.T, plain bool) *fakeS3 {
	t.Helper()
	f := &fakeS3{
		t:         t,
		accessKey: "AKIDEXAMPLETEST",
		secretKey: "test-secret-key-not-real",
		region:    "eu-test-1",
		bucket:    "mail-bucket",
		objects:   map[string]fakeObject{},
	}
	if plain {
		f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	} else {
		f.server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	}
	t.Cleanup(f.server.Close)
	return f
}

// config returns the S3Config of a store that talks to f.
func (f *fakeS3) config() S3Config {
	u, _ := url.Parse(f.server.URL)
	cfg := S3Config{
		Endpoint:   u.Host,
		Bucket:     f.bucket,
		Region:     f.region,
		AccessKey:  f.accessKey,
		SecretKey:  f.secretKey,
		DisableTLS: u.Scheme == "http",
		TempDir:    f.t.TempDir(),
	}
	if u.Scheme == "https" {
		cfg.Transport = f.server.Client().Transport
	}
	return cfg
}

// recorded returns a copy of the requests received so far.
func (f *fakeS3) recorded() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.requests...)
}

// requestsTo returns the recorded requests with the given method.
func (f *fakeS3) requestsTo(method string) []recordedRequest {
	var out []recordedRequest
	for _, r := range f.recorded() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	rec := recordedRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone()}
	body, signErr := f.verify(r, &rec)
	rec.SignatureOK = signErr == nil
	if signErr != nil {
		rec.SignError = signErr.Error()
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	f.mu.Unlock()

	if signErr != nil {
		writeS3Error(w, r, http.StatusForbidden, "SignatureDoesNotMatch", signErr.Error())
		return
	}

	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != f.bucket {
		writeS3Error(w, r, http.StatusNotFound, "NoSuchBucket", "no bucket "+bucket)
		return
	}
	switch {
	case key == "" && r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case key != "" && r.Method == http.MethodPut:
		f.put(w, r, key, body)
	case key != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		f.get(w, r, key)
	default:
		writeS3Error(w, r, http.StatusNotImplemented, "NotImplemented", r.Method+" "+r.URL.Path)
	}
}

func (f *fakeS3) put(w http.ResponseWriter, r *http.Request, key string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, exists := f.objects[key]; exists && r.Header.Get("If-None-Match") == "*" {
		writeS3Error(w, r, http.StatusPreconditionFailed, "PreconditionFailed", "the key exists")
		return
	}
	f.objects[key] = fakeObject{data: body, header: r.Header.Clone()}
	sum := sha256.Sum256(body)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	if sse := r.Header.Get("X-Amz-Server-Side-Encryption"); sse != "" {
		w.Header().Set("X-Amz-Server-Side-Encryption", sse)
	}
	w.WriteHeader(http.StatusOK)
}

func (f *fakeS3) get(w http.ResponseWriter, r *http.Request, key string) {
	f.mu.Lock()
	obj, ok := f.objects[key]
	f.mu.Unlock()
	if !ok {
		writeS3Error(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	sum := sha256.Sum256(obj.data)
	h := w.Header()
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(obj.data)))
	for name, values := range obj.header {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-meta-") || strings.EqualFold(name, "X-Amz-Server-Side-Encryption") {
			h[name] = values
		}
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(obj.data)
	}
}

func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>1</RequestId></Error>`,
		code, message, r.URL.Path)
}

// verify checks the signature of r and returns its payload, decoded from
// the aws-chunked form when the client streamed it.
func (f *fakeS3) verify(r *http.Request, rec *recordedRequest) ([]byte, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %v", err)
	}

	if r.URL.Query().Get("X-Amz-Algorithm") != "" {
		rec.Presigned = true
		return raw, f.verifyPresigned(r)
	}

	auth := r.Header.Get("Authorization")
	cred, signed, signature, err := parseAuthorization(auth)
	if err != nil {
		return nil, err
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if err := f.checkCredential(cred, amzDate); err != nil {
		return nil, err
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	canonical := canonicalRequest(r, signed, canonicalQuery(r.URL.Query()), payloadHash)
	want := f.sign(amzDate, "AWS4-HMAC-SHA256\n"+amzDate+"\n"+f.scope(amzDate)+"\n"+hexSHA256([]byte(canonical)))
	if want != signature {
		return nil, fmt.Errorf("signature %s does not match the expected %s", signature, want)
	}

	switch {
	case payloadHash == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD":
		return f.decodeChunks(raw, amzDate, signature)
	case payloadHash == "UNSIGNED-PAYLOAD":
		return raw, nil
	case payloadHash != hexSHA256(raw):
		return nil, fmt.Errorf("x-amz-content-sha256 %s is not the SHA-256 of the %d-byte body", payloadHash, len(raw))
	}
	return raw, nil
}

// verifyPresigned checks the query signature of a presigned URL.
func (f *fakeS3) verifyPresigned(r *http.Request) error {
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return fmt.Errorf("unexpected X-Amz-Algorithm %q", q.Get("X-Amz-Algorithm"))
	}
	amzDate := q.Get("X-Amz-Date")
	if err := f.checkCredential(q.Get("X-Amz-Credential"), amzDate); err != nil {
		return err
	}
	issued, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return fmt.Errorf("invalid X-Amz-Date %q", amzDate)
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil {
		return fmt.Errorf("invalid X-Amz-Expires %q", q.Get("X-Amz-Expires"))
	}
	if time.Now().After(issued.Add(time.Duration(expires) * time.Second)) {
		return fmt.Errorf("the presigned URL expired")
	}

	signature := q.Get("X-Amz-Signature")
	q.Del("X-Amz-Signature")
	signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	canonical := canonicalRequest(r, signed, canonicalQuery(q), "UNSIGNED-PAYLOAD")
	want := f.sign(amzDate, "AWS4-HMAC-SHA256\n"+amzDate+"\n"+f.scope(amzDate)+"\n"+hexSHA256([]byte(canonical)))
	if want != signature {
		return fmt.Errorf("presigned signature %s does not match the expected %s", signature, want)
	}
	return nil
}

// decodeChunks returns the payload of an aws-chunked body after checking
// the signature of every chunk, each chained to the one before.
func (f *fakeS3) decodeChunks(raw []byte, amzDate, seedSignature string) ([]byte, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	previous := seedSignature
	var payload []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading a chunk header: %v", err)
		}
		sizeHex, sig, ok := strings.Cut(strings.TrimSuffix(line, "\r\n"), ";chunk-signature=")
		if !ok {
			return nil, fmt.Errorf("chunk header %q has no chunk-signature", line)
		}
		size, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("chunk size %q: %v", sizeHex, err)
		}
		chunk := make([]byte, size)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, fmt.Errorf("reading a chunk of %d bytes: %v", size, err)
		}
		if _, err := br.Discard(2); err != nil {
			return nil, fmt.Errorf("reading the CRLF after a chunk: %v", err)
		}

		toSign := strings.Join([]string{"AWS4-HMAC-SHA256-PAYLOAD", amzDate, f.scope(amzDate), previous, hexSHA256(nil), hexSHA256(chunk)}, "\n")
		if want := f.sign(amzDate, toSign); want != sig {
			return nil, fmt.Errorf("chunk signature %s does not match the expected %s", sig, want)
		}
		previous = sig
		payload = append(payload, chunk...)
		if size == 0 {
			return payload, nil
		}
	}
}

func (f *fakeS3) checkCredential(credential, amzDate string) error {
	if len(amzDate) < 8 {
		return fmt.Errorf("missing or short X-Amz-Date %q", amzDate)
	}
	want := f.accessKey + "/" + f.scope(amzDate)
	if credential != want {
		return fmt.Errorf("credential %q, want %q", credential, want)
	}
	return nil
}

func (f *fakeS3) scope(amzDate string) string {
	return amzDate[:8] + "/" + f.region + "/s3/aws4_request"
}

// sign returns the hex signature of stringToSign with the signing key of
// the day in amzDate.
func (f *fakeS3) sign(amzDate, stringToSign string) string {
	key := hmacSHA256([]byte("AWS4"+f.secretKey), amzDate[:8])
	key = hmacSHA256(key, f.region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

// parseAuthorization splits an AWS4-HMAC-SHA256 Authorization header.
func parseAuthorization(auth string) (credential string, signed []string, signature string, err error) {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", nil, "", fmt.Errorf("authorization %q is not AWS4-HMAC-SHA256", auth)
	}
	for _, part := range strings.Split(rest, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch name {
		case "Credential":
			credential = value
		case "SignedHeaders":
			signed = strings.Split(value, ";")
		case "Signature":
			signature = value
		}
	}
	if credential == "" || len(signed) == 0 || signature == "" {
		return "", nil, "", fmt.Errorf("authorization %q lacks Credential, SignedHeaders or Signature", auth)
	}
	return credential, signed, signature, nil
}

// canonicalRequest builds the canonical request of signature version 4.
func canonicalRequest(r *http.Request, signed []string, query, payloadHash string) string {
	path, _, _ := strings.Cut(r.RequestURI, "?")
	var headers strings.Builder
	for _, name := range signed {
		var value string
		switch name {
		case "host":
			value = r.Host
		case "content-length":
			value = strconv.FormatInt(r.ContentLength, 10)
		default:
			value = strings.Join(r.Header.Values(name), ",")
		}
		headers.WriteString(name + ":" + strings.Join(strings.Fields(value), " ") + "\n")
	}
	return strings.Join([]string{r.Method, path, query, headers.String(), strings.Join(signed, ";"), payloadHash}, "\n")
}

// canonicalQuery encodes q sorted by name and value, as signature version 4
// requires.
func canonicalQuery(q url.Values) string {
	var pairs []string
	for name, values := range q {
		for _, v := range values {
			pairs = append(pairs, awsEscape(name)+"="+awsEscape(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// awsEscape percent-encodes every byte except the unreserved characters
// A-Z, a-z, 0-9, '-', '.', '_' and '~'.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
